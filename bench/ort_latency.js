// Median batch-N latency of an ONNX model in ONNX Runtime (onnxruntime-node), on random input.
// usage: node ort_latency.js MODEL N R THREADS REPETITIONS   -> prints "ort_ms <median>"
const ort = require('onnxruntime-node');
(async () => {
  const [model, n, r, threads, reps] = process.argv.slice(2).map((v, i) => (i ? Number(v) : v));
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential'});
  const x = new Float32Array(n * 3 * r * r).map(() => Math.random() * 2 - 1);
  const feeds = {images: new ort.Tensor('float32', x, [n, 3, r, r])};
  for (let i = 0; i < 10; ++i) await session.run(feeds);
  const times = [];
  for (let i = 0; i < reps; ++i) {
    const t = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  times.sort((a, b) => a - b);
  console.log(`ort_ms ${times[Math.floor(times.length / 2)]}`);
})();
