// Runs an ONNX model with ONNX Runtime (onnxruntime-node) on raw float32 input and compares the
// output with raw float32 expected values: prints the largest difference, exits 1 above the tolerance.
// usage: node ort_compare.js MODEL INPUT EXPECTED N R TOLERANCE
const ort = require('onnxruntime-node');
const fs = require('fs');

function floats(path) {
  const b = fs.readFileSync(path);
  const out = new Float32Array(b.length / 4);
  for (let i = 0; i < out.length; ++i) out[i] = b.readFloatLE(4 * i);
  return out;
}

(async () => {
  const [model, input, expected, n, r, tolerance] = process.argv.slice(2);
  const session = await ort.InferenceSession.create(model, {intraOpNumThreads: 1, interOpNumThreads: 1});
  const x = new ort.Tensor('float32', floats(input), [Number(n), 3, Number(r), Number(r)]);
  const y = (await session.run({images: x})).logits.data;
  const want = floats(expected);
  if (y.length !== want.length) {
    console.log(`output has ${y.length} values, expected ${want.length}`);
    process.exit(1);
  }
  let worst = 0;
  for (let i = 0; i < y.length; ++i) worst = Math.max(worst, Math.abs(y[i] - want[i]));
  console.log(`max |onnxruntime - static_net| = ${worst}`);
  process.exit(worst <= Number(tolerance) ? 0 : 1);
})().catch((e) => {
  console.log(String(e));
  process.exit(1);
});
