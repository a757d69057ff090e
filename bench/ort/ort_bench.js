// Times ONNX Runtime (npm onnxruntime-node, CPU) on one ONNX model, the way `hqp bench` times
// hqp: fixed-seed normal input of the model's shape (dynamic dims from --shape), warm-up, then
// `runs` timed runs; prints JSON with median_ms, min_ms, p90_ms. Used by bench/compare_ort.py.
// Usage: node ort_bench.js MODEL.onnx --threads 2 --runs 50 --warmup 5 --shape 1x3x224x224
const ort = require('onnxruntime-node');

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : def;
}

function normal(rng) {
  const u = Math.max(rng(), 1e-12), v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

function mulberry32(a) {
  return function () {
    a |= 0; a = (a + 0x6D2B79F5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

(async () => {
  const model = process.argv[2];
  const threads = parseInt(arg('--threads', '1'));
  const runs = parseInt(arg('--runs', '50'));
  const warmup = parseInt(arg('--warmup', '5'));
  const shape = arg('--shape', '1x3x224x224').split('x').map(Number);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
    executionMode: 'sequential'});
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  const rng = mulberry32(42);
  for (let i = 0; i < n; i++) data[i] = normal(rng);
  const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', data, shape)};
  for (let i = 0; i < warmup; i++) await session.run(feeds);
  const ms = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ms.sort((a, b) => a - b);
  const q = (p) => { const x = p * (ms.length - 1), lo = Math.floor(x), hi = Math.min(lo + 1, ms.length - 1);
                     return ms[lo] + (ms[hi] - ms[lo]) * (x - lo); };
  console.log(JSON.stringify({engine: 'onnxruntime', version: ort.env.versions ? ort.env.versions.common : '1.30.0',
                              model, threads, runs, median_ms: q(0.5), min_ms: ms[0], p90_ms: q(0.9)}));
})().catch((e) => { console.error('ort_bench: ' + e.message); process.exit(1); });
