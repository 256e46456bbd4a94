// The steps both Node.js cluster client tests take, given a connected cluster client with
// promise-returning get and set: one key in every hash slot written and read back; then
// "written" on stdout and, once the test has moved slots between nodes, a line "moved SLOT..."
// on stdin: the keys of the moved slots are read (the client's slot map is stale: -MOVED) and
// rewritten, and every key is read again.
const assert = require("node:assert/strict");
const readline = require("node:readline");
const { once } = require("node:events");
// The slot function both ioredis and node-redis route with.
const keySlot = require("cluster-key-slot");

const SLOTS = 16384;

// The first key of the form "key:N" in each slot, indexed by slot.
function slotKeys() {
  const keys = new Array(SLOTS);
  let found = 0;
  for (let n = 0; found < SLOTS; n++) {
    const key = `key:${n}`;
    const slot = keySlot(key);
    if (keys[slot] === undefined) {
      keys[slot] = key;
      found++;
    }
  }
  return keys;
}

async function exercise(cluster) {
  const keys = slotKeys();
  const checkAll = async (suffix) => {
    const values = await Promise.all(keys.map((key) => cluster.get(key)));
    values.forEach((value, slot) => assert.equal(value, keys[slot] + (suffix[slot] || ""), `slot ${slot}`));
  };
  await Promise.all(keys.map((key) => cluster.set(key, key)));
  await checkAll({});
  console.log("written");

  const lines = readline.createInterface({ input: process.stdin });
  const [line] = await once(lines, "line");
  lines.close();
  const moved = line.split(" ").slice(1).map(Number);
  assert.ok(moved.length > 0, "the test names the slots it moved");
  const suffix = {};
  for (const slot of moved) {
    assert.equal(await cluster.get(keys[slot]), keys[slot], `slot ${slot} after the move`);
    assert.equal(await cluster.set(keys[slot], keys[slot] + "+"), "OK");
    assert.equal(await cluster.get(keys[slot]), keys[slot] + "+");
    suffix[slot] = "+";
  }
  await checkAll(suffix);
}

// Runs `main`, printing "ok" when it succeeds and exiting non-zero with the error otherwise.
function run(main) {
  main().then(
    () => console.log("ok"),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}

module.exports = { exercise, run };
