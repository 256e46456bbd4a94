// ioredis's Cluster against the cluster whose node listens on port argv[2], through the steps
// of cluster_steps.js (every slot written and read, then -MOVED followed after a reshard).
const Redis = require("ioredis");
const { exercise, run } = require("./cluster_steps");

run(async () => {
  const cluster = new Redis.Cluster([{ host: "127.0.0.1", port: Number(process.argv[2]) }]);
  await exercise(cluster);
  cluster.disconnect();
});
