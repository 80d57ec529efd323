"""Bad input never crashes the interpreter: random scripts and arguments
raise ustrace's exceptions (or run), never anything else."""

import random

import pytest

import ustrace

CORPUS = [
    'BEGIN { printf("%d %s\\n", 1, "a"); exit(); }',
    "h { @x[1, \"a\"] = count(); } BEGIN { exit(); }",
    "usdt:/nonexistent:p:n { @h = hist(arg0); }",
    'BEGIN { @s = stats(5); @l = lhist(3, 0, 10, 2); print(@s); exit(); }',
    "interval:ms:1 { exit(); }",
]


def mutate(rng, s):
    chars = list(s)
    for _ in range(rng.randint(1, 4)):
        op = rng.randint(0, 2)
        i = rng.randint(0, len(chars))
        if op == 0 and chars:
            del chars[min(i, len(chars) - 1)]
        elif op == 1:
            chars.insert(i, rng.choice('{}()[]/@$"\\%:;,0az \n\x00é'))
        else:
            j = rng.randint(0, len(chars))
            chars[i:i] = chars[min(i, j):max(i, j)]
    return "".join(chars)


def test_random_scripts_raise_only_ustrace_errors(bpf):
    rng = random.Random(1234)
    for n in range(150):
        src = mutate(rng, rng.choice(CORPUS))
        try:
            with ustrace.Tracer(src) as t:
                list(t.events(timeout=0.05))
                t.maps()
        except ustrace.UstraceError as e:
            assert str(e), src
        except ValueError as e:
            # NUL bytes in the script text.
            assert "\x00" in src, (src, e)


@pytest.mark.parametrize(
    "kwargs",
    [{"pid": 0}, {"pid": -1}, {"pid": "1"}, {}, {"pid": 1, "path": "/bin/true"}],
)
def test_bad_usdt_arguments(kwargs):
    with pytest.raises(ValueError):
        ustrace.USDT(**kwargs)


@pytest.mark.parametrize("probe", ["", ":", "a:b:c", "with space", "*nothing*"])
def test_bad_probe_names(probe, server):
    _, pid = server
    with pytest.raises(ustrace.ProbeError) as e:
        ustrace.USDT(pid=pid).enable_probe(probe=probe, fn_name="f")
    assert "\n" not in str(e.value)
