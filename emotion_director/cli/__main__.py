"""``python -m emotion_director.cli`` (and ``accelerate launch -m emotion_director.cli``)."""

from emotion_director.cli.root import main

main()
