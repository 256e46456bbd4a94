// node-redis's defineScript against the server on port argv[2]: EVALSHA first and EVAL after
// NOSCRIPT (again after SCRIPT FLUSH), script errors, and functionLoad / fCall.
// Exits non-zero, with the failing step, on any difference from what Redis does.
const assert = require("node:assert/strict");
const { createClient, defineScript } = require("redis");

async function main() {
  const client = createClient({
    socket: { port: Number(process.argv[2]) },
    scripts: {
      addBy: defineScript({
        NUMBER_OF_KEYS: 1,
        SCRIPT: "return redis.call('INCRBY', KEYS[1], ARGV[1])",
        transformArguments: (key, by) => [key, by.toString()],
        transformReply: (reply) => reply,
      }),
      incrText: defineScript({
        NUMBER_OF_KEYS: 1,
        SCRIPT: "return redis.call('INCR', KEYS[1])",
        transformArguments: (key) => [key],
        transformReply: (reply) => reply,
      }),
    },
  });
  await client.connect();
  const calls = async (command) => {
    const match = (await client.info("commandstats")).match(
      new RegExp(`cmdstat_${command}:calls=(\\d+)`),
    );
    return match ? Number(match[1]) : 0;
  };
  // EVALSHA answers NOSCRIPT on first use, so the script is sent with EVAL; later calls run
  // by SHA until SCRIPT FLUSH forgets it.
  assert.equal(await client.addBy("counter", 5), 5);
  assert.deepEqual([await calls("evalsha"), await calls("eval")], [1, 1]);
  assert.equal(await client.addBy("counter", 2), 7);
  assert.deepEqual([await calls("evalsha"), await calls("eval")], [2, 1]);
  await client.scriptFlush();
  assert.equal(await client.addBy("counter", 3), 10);
  assert.deepEqual([await calls("evalsha"), await calls("eval")], [3, 2]);

  await client.set("text", "abc");
  await assert.rejects(client.incrText("text"), (e) => {
    assert.match(e.message, /^ERR value is not an integer or out of range script: [0-9a-f]{40}, on @user_script:1\.$/);
    return true;
  });

  const lib = "#!lua name=nodelib\nredis.register_function('hello', function(keys, args) return 'hello ' .. args[1] end)";
  assert.equal(await client.functionLoad(lib), "nodelib");
  assert.equal(await client.functionLoad(lib, { REPLACE: true }), "nodelib");
  assert.equal(await client.fCall("hello", { arguments: ["node"] }), "hello node");

  await client.quit();
  console.log("ok");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
