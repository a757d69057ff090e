// Runs ONNX Runtime (npm onnxruntime-node, CPU) once on one ONNX model: reads a raw little-endian
// f32 input of the given shape, writes the first output as raw f32 and prints its shape as JSON.
// Used by bench/prune_bench.py to check that hqp and ONNX Runtime compute the same pruned model.
// Usage: node run_model.js MODEL.onnx INPUT.f32 8x1x28x28 OUTPUT.f32
const fs = require('fs');
const ort = require('onnxruntime-node');

(async () => {
  const [model, input, shapeText, output] = process.argv.slice(2);
  const shape = shapeText.split('x').map(Number);
  const buf = fs.readFileSync(input);
  const data = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  const session = await ort.InferenceSession.create(model, {intraOpNumThreads: 1, graphOptimizationLevel: 'all'});
  const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', data, shape)};
  const out = (await session.run(feeds))[session.outputNames[0]];
  fs.writeFileSync(output, Buffer.from(out.data.buffer, out.data.byteOffset, out.data.byteLength));
  console.log(JSON.stringify({dims: out.dims}));
})().catch((e) => { console.error(e.message); process.exit(1); });
