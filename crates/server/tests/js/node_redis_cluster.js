// node-redis's createCluster against the cluster whose node listens on port argv[2], through
// the steps of cluster_steps.js (every slot written and read, then -MOVED followed after a
// reshard).
const { createCluster } = require("redis");
const { exercise, run } = require("./cluster_steps");

run(async () => {
  const cluster = createCluster({ rootNodes: [{ url: `redis://127.0.0.1:${process.argv[2]}` }] });
  cluster.on("error", (error) => {
    console.error(error);
    process.exit(1);
  });
  await cluster.connect();
  await exercise(cluster);
  await cluster.quit();
});
