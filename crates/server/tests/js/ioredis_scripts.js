// ioredis's defineCommand against the server on port argv[2]: EVAL, then EVALSHA, and EVAL
// again after NOSCRIPT (SCRIPT FLUSH); reply conversion, script errors, and pipelines.
// Exits non-zero, with the failing step, on any difference from what Redis does.
const assert = require("node:assert/strict");
const Redis = require("ioredis");

async function main() {
  const redis = new Redis({ port: Number(process.argv[2]), lazyConnect: true });
  await redis.connect();
  // How many times the server ran `command`, from INFO commandstats.
  const calls = async (command) => {
    const stats = await redis.info("commandstats");
    const match = stats.match(new RegExp(`cmdstat_${command}:calls=(\\d+)`));
    return match ? Number(match[1]) : 0;
  };
  redis.defineCommand("addBy", {
    numberOfKeys: 1,
    lua: "return redis.call('INCRBY', KEYS[1], ARGV[1])",
  });
  // ioredis sends EVAL the first time on a connection, EVALSHA after that, and EVAL again
  // when EVALSHA answers NOSCRIPT.
  assert.equal(await redis.addBy("counter", 5), 5);
  assert.deepEqual([await calls("eval"), await calls("evalsha")], [1, 0]);
  assert.equal(await redis.addBy("counter", 2), 7);
  assert.deepEqual([await calls("eval"), await calls("evalsha")], [1, 1]);
  await redis.script("FLUSH");
  assert.equal(await redis.addBy("counter", 3), 10);
  assert.deepEqual([await calls("eval"), await calls("evalsha")], [2, 2], "NOSCRIPT, then EVAL");
  assert.match(await redis.info("errorstats"), /errorstat_NOSCRIPT:count=1\r\n/);

  // Keys given at call time, and replies converted as Redis converts them.
  redis.defineCommand("mixed", {
    lua: "return {KEYS[1], tonumber(ARGV[1]) * 1.5, {'nested'}, nil, 'after'}",
  });
  assert.deepEqual(await redis.mixed(1, "k", "3"), ["k", 4, ["nested"]]);

  // Script errors reach the caller with Redis's text.
  redis.defineCommand("incrText", { numberOfKeys: 1, lua: "return redis.call('INCR', KEYS[1])" });
  await redis.set("text", "abc");
  await assert.rejects(redis.incrText("text"), (e) => {
    assert.match(e.message, /^ERR value is not an integer or out of range script: [0-9a-f]{40}, on @user_script:1\.$/);
    return true;
  });

  // In a pipeline the script runs by its SHA, in order with the other commands.
  const results = await redis.pipeline().addBy("counter", 1).get("counter").exec();
  assert.deepEqual(results, [[null, 11], [null, "11"]]);

  redis.disconnect();
  console.log("ok");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
