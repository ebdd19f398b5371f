"""What `import lamina` loads, and what it leaves for first use."""

import json
import subprocess
import sys

LAZY = [
    "applications",
    "datasets",
    "distillation",
    "legacy",
    "visualization",
    "wrappers",
]
OPTIONAL = ["pandas", "matplotlib", "sklearn", "onnx", "onnxruntime", "tensorboard"]
# Required, but only saving and loading use it (11 MiB resident once imported).
ON_FIRST_USE = ["h5py"]


def _run(code):
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_import_leaves_rare_namespaces_and_optional_extras_unloaded():
    state = _run(
        "import gc, json, sys, lamina\n"
        f"names = {LAZY + OPTIONAL + ON_FIRST_USE!r}\n"
        "loaded = [n for n in names if n in sys.modules or 'lamina.' + n in sys.modules]\n"
        "print(json.dumps({'loaded': loaded, 'gc': gc.isenabled()}))\n"
    )
    assert state == {"loaded": [], "gc": True}


def test_h5py_is_imported_by_the_first_save(tmp_path):
    path = tmp_path / "w.weights.h5"
    state = _run(
        "import json, sys, numpy as np, lamina\n"
        "model = lamina.Sequential([lamina.Input((3,)), lamina.layers.Dense(2)])\n"
        "before = 'h5py' in sys.modules\n"
        f"model.save_weights({str(path)!r})\n"
        "other = lamina.Sequential([lamina.Input((3,)), lamina.layers.Dense(2)])\n"
        f"other.load_weights({str(path)!r})\n"
        "same = all(np.array_equal(a, b) for a, b in "
        "zip(model.get_weights(), other.get_weights()))\n"
        "print(json.dumps({'before': before, 'after': 'h5py' in sys.modules, "
        "'same': same}))\n"
    )
    assert state == {"before": False, "after": True, "same": True}


def test_lazy_namespaces_load_on_first_use():
    state = _run(
        "import json, lamina\n"
        "from lamina import datasets\n"
        "print(json.dumps({\n"
        "  'app': lamina.applications.ResNet50.__name__,\n"
        "  'datasets': datasets.__name__,\n"
        "  'distillation': lamina.distillation.Distiller.__name__,\n"
        "  'dir': [n for n in dir(lamina) if n in "
        f"{LAZY!r}],\n"
        "}))\n"
    )
    assert state == {
        "app": "ResNet50",
        "datasets": "lamina.datasets",
        "distillation": "Distiller",
        "dir": sorted(LAZY),
    }


def test_unknown_attribute_still_raises_attribute_error():
    state = _run(
        "import json, lamina\n"
        "try:\n"
        "    lamina.no_such_namespace\n"
        "except AttributeError as e:\n"
        "    print(json.dumps(str(e)))\n"
    )
    assert "no_such_namespace" in state


def test_a_config_naming_an_application_layer_loads_in_a_fresh_process():
    # LayerScale lives in lamina.applications, which `import lamina` no longer
    # loads: deserializing Keras's name for it must import it on demand.
    state = _run(
        "import json, lamina\n"
        "config = {'module': 'keras.src.applications.convnext', 'class_name': 'LayerScale',\n"
        "          'registered_name': 'LayerScale',\n"
        "          'config': {'name': 'ls', 'init_values': 0.5, 'projection_dim': 3}}\n"
        "layer = lamina.saving.deserialize_keras_object(config)\n"
        "print(json.dumps([type(layer).__module__, type(layer).__name__]))\n"
    )
    assert state == ["lamina.applications.convnext", "LayerScale"]
