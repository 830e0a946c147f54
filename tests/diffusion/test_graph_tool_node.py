from emotion_director import Settings, build_graph
from emotion_director.diffusion.generator import ImageGenerator
from emotion_director.diffusion.pipeline import MCDiffusionPipeline
from emotion_director.diffusion.tiny import build_tiny_pipeline
from emotion_director.testing import TestChatModel


def test_graph_calls_the_tool_node_when_a_diffusion_model_is_configured(tmp_path, bank):
    base = build_tiny_pipeline("sd15")
    base.set_progress_bar_config(disable=True)
    gen = ImageGenerator(
        model="tiny",
        pipeline=MCDiffusionPipeline(base, bank=bank),
        out_dir=str(tmp_path),
        steps=2,
        height=32,
        width=32,
    )
    graph = build_graph(Settings(), chat_model=TestChatModel(), image_generator=gen)
    nodes = []
    out = None
    for update in graph.stream(
        {"prompt": "an angry dog", "emotion": "contentment"}, stream_mode="updates"
    ):
        nodes.append(next(iter(update)))
    assert nodes[-1] == "generate_image"
    out = graph.invoke({"prompt": "an angry dog", "emotion": "contentment"})
    assert len(out["images"]) == 1
    assert "generate_image" in graph.get_graph().draw_mermaid()


def test_without_a_diffusion_model_the_graph_ends_at_the_prompt():
    graph = build_graph(Settings(), chat_model=TestChatModel())
    assert "generate_image" not in graph.get_graph().draw_mermaid()
    assert "images" not in graph.invoke({"prompt": "a dog", "emotion": "awe"})
