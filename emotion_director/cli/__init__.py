"""The ``emotion-director`` command line: thin, it parses, calls the library and renders.

One module per command group, each a shell over library functions that tests can call:

* :mod:`~emotion_director.cli.rewrite`: ``rewrite`` (durable ``--thread`` runs, ``--review``)
  and ``emotions``;
* :mod:`~emotion_director.cli.personas`: ``personas list|show|validate|schema|diff``;
* :mod:`~emotion_director.cli.scene`: ``scene check``;
* :mod:`~emotion_director.cli.evals`: ``eval`` run, judge, report, compare, images,
  train-probe, tiny-clip, toy-emoset, rate, scene-fit;
* :mod:`~emotion_director.cli.bank`: ``bank init|random|tiny-pipeline|tiny-image-encoder``;
* :mod:`~emotion_director.cli.train`: ``train dpo|toy-data``;
* :mod:`~emotion_director.cli.generate`: ``generate``;
* :mod:`~emotion_director.cli.mcp`: ``mcp``.

:mod:`~emotion_director.cli.root` puts them together (``app``, and ``main``, the console
script); :mod:`~emotion_director.cli.common` (consoles, error lines and exit codes, progress
bars) and :mod:`~emotion_director.cli.jsonl` (``--jsonl -`` streams) are what they share.
Every error a user can fix is printed as one red line on stderr with exit code 2.
"""

from emotion_director.cli.root import app, main

__all__ = ["app", "main"]
