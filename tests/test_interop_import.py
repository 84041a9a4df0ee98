"""Keras stays optional: minnn never imports it (nor JAX) unless minnn.interop is used,
interop picks the JAX backend when KERAS_BACKEND is unset, and a missing Keras gives an
ImportError that says how to install it. Each check runs in a fresh interpreter, because
this test process may have imported Keras already (test_interop.py does).
"""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(code, env_changes=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("KERAS_BACKEND", None)
    env.update(env_changes or {})
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def _keras_installed():
    return _run("import importlib.util as u; print(bool(u.find_spec('keras') and "
                "u.find_spec('jax')))") == "True"


def test_import_minnn_imports_neither_keras_nor_jax():
    out = _run(
        "import sys, minnn, minnn.interop\n"
        "import numpy as np\n"
        "m = minnn.Model(*(lambda i: (i, minnn.Dense(1)(i)))(minnn.Input((2,))))\n"
        "m.predict(np.zeros((1, 2)), verbose=0)\n"
        "print(sorted(k for k in sys.modules if k.split('.')[0] in ('keras', 'jax', 'jaxlib',"
        " 'tensorflow', 'torch')))"
    )
    assert out == "[]"


def test_negative_control_the_check_sees_an_imported_keras():
    """The check above would fail if minnn imported Keras: here the same check, after a
    planted import of a stand-in 'keras' module, reports it."""
    out = _run(
        "import sys, types\n"
        "sys.modules['keras'] = types.ModuleType('keras')\n"
        "import minnn\n"
        "print(sorted(k for k in sys.modules if k.split('.')[0] in ('keras', 'jax')))"
    )
    assert out == "['keras']"


def test_missing_keras_gives_an_import_error_with_the_install_command():
    out = _run(
        "import sys\n"
        "sys.modules['keras'] = None  # as if Keras were not installed\n"
        "import minnn\n"
        "from minnn import interop\n"
        "i = minnn.Input((2,))\n"
        "try:\n"
        "    interop.to_keras(minnn.Model(i, minnn.Dense(1)(i)))\n"
        "except ImportError as e:\n"
        "    print(type(e).__name__, '|', e)\n"
        "print(interop.keras_available())"
    )
    first, last = out.splitlines()[0], out.splitlines()[-1]
    assert first.startswith("ImportError |")
    assert 'pip install -e ".[keras]"' in out
    assert last == "False"


def test_unset_backend_becomes_jax_before_keras_is_imported():
    if not _keras_installed():
        pytest.skip('Keras 3 with JAX is not installed (pip install -e ".[keras]")')
    out = _run(
        "import os\n"
        "from minnn import interop\n"
        "keras = interop.import_keras()\n"
        "print(os.environ['KERAS_BACKEND'], keras.backend.backend())"
    )
    assert out.splitlines()[-1] == "jax jax"


def test_a_backend_chosen_before_is_kept():
    """Keras cannot switch backends once imported: interop then uses the one in place."""
    if not _keras_installed():
        pytest.skip('Keras 3 with JAX is not installed (pip install -e ".[keras]")')
    out = _run(
        "import os, keras\n"
        "import numpy as np, minnn\n"
        "from minnn import interop\n"
        "i = minnn.Input((2,)); m = minnn.Model(i, minnn.Dense(3, activation='tanh')(i))\n"
        "k = interop.to_keras(m)\n"
        "x = np.ones((4, 2), 'float32')\n"
        "print(os.environ['KERAS_BACKEND'], keras.backend.backend(),"
        " float(np.abs(k.predict(x, verbose=0) - m.predict(x, verbose=0)).max()) < 1e-6)",
        {"KERAS_BACKEND": "numpy"},
    )
    assert out.splitlines()[-1] == "numpy numpy True"


def test_an_unbuilt_model_is_refused_before_keras_is_needed():
    import minnn
    from minnn import interop

    with pytest.raises(ValueError, match="'lazy' is not built yet"):
        interop.to_keras(minnn.Sequential([minnn.Dense(2)], name="lazy"))
