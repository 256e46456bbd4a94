"""redis-py's script helpers against the server on port argv[1]: register_script (EVALSHA first,
SCRIPT LOAD and EVALSHA again after NOSCRIPT), script errors, and function_load / fcall /
fcall_ro. Exits non-zero, with the failing step, on any difference from what Redis does."""
import sys

import redis

r = redis.Redis(port=int(sys.argv[1]), decode_responses=True)


def noscript_errors():
    """EVALSHA calls that failed: the NOSCRIPT answers, as nothing else in the script fails
    before the error checks. From commandstats, whose fields every redis-py version parses."""
    return r.info("commandstats").get("cmdstat_evalsha", {}).get("failed_calls", 0)


add = r.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
assert add(keys=["counter"], args=[5]) == 5
assert noscript_errors() == 1, "the first call tries EVALSHA, gets NOSCRIPT and loads"
assert add(keys=["counter"], args=[2]) == 7
assert noscript_errors() == 1, "a loaded script runs by its SHA"
r.script_flush()
assert r.script_exists(add.sha) == [False]
assert add(keys=["counter"], args=[3]) == 10
assert noscript_errors() == 2, "after SCRIPT FLUSH the helper falls back again"
assert r.script_exists(add.sha) == [True]

# Replies convert as Redis converts them: floats truncate, nil ends an array.
mixed = r.register_script("return {KEYS[1], tonumber(ARGV[1]) * 1.5, {'nested'}, nil, 'after'}")
assert mixed(keys=["k"], args=["3"]) == ["k", 4, ["nested"]]

# Script errors reach the caller as Redis's text.
fail = r.register_script("return redis.call('INCR', KEYS[1])")
r.set("text", "abc")
try:
    fail(keys=["text"])
    raise AssertionError("INCR of a string succeeded")
except redis.ResponseError as e:
    assert str(e).startswith("value is not an integer or out of range script: "), str(e)
    assert str(e).endswith("on @user_script:1."), str(e)

# Inside a pipeline the helper loads the script before the batch runs.
r.script_flush()
pipe = r.pipeline()
add(keys=["counter"], args=[1], client=pipe)
pipe.get("counter")
assert pipe.execute() == [11, "11"]

LIB = """#!lua name=pylib
redis.register_function('hello', function(keys, args) return 'hello ' .. args[1] end)
redis.register_function{function_name='getkey', callback=function(keys) return redis.call('GET', keys[1]) end, flags={'no-writes'}}
"""
assert r.function_load(LIB) == "pylib"
try:
    r.function_load(LIB)
    raise AssertionError("loading a library twice succeeded")
except redis.ResponseError as e:
    assert str(e) == "Library 'pylib' already exists", str(e)
assert r.function_load(LIB, replace=True) == "pylib"
assert r.fcall("hello", 0, "py") == "hello py"
assert r.fcall_ro("getkey", 1, "counter") == "11"
try:
    r.fcall_ro("hello", 0, "x")
    raise AssertionError("FCALL_RO ran a function without no-writes")
except redis.ResponseError as e:
    assert str(e) == "Can not execute a script with write flag using *_ro command.", str(e)
listed = str(r.function_list(library="pylib"))
assert "'hello'" in listed and "'getkey'" in listed, listed
assert r.function_delete("pylib")
assert r.function_list() == []
print("ok")
