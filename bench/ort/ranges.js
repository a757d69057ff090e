// Min/max of every float output of MODEL (see bench/ort_ranges.py) over 4 seeded N(0,1) inputs of
// SHAPE (default 1x3x224x224), as JSON. Usage: node ranges.js MODEL.onnx [SHAPE] [CHANNELS.json] [INPUTS.f32]
// With CHANNELS.json: also the per-channel (axis 1) min/max of every 4-D output, written there as
// {name: [[min per channel], [max per channel]]} (bench/make_nncf_qdq.py's depthwise inputs).
// With INPUTS.f32 (raw little-endian f32, a whole number of SHAPE-sized inputs): those inputs instead
// of the random ones (calibration on real data).
const ort = require('onnxruntime-node');
const fs = require('fs');
(async () => {
  const s = await ort.InferenceSession.create(process.argv[2]);
  const shape = (process.argv[3] || '1x3x224x224').split('x').map(Number);
  const ranges = {}, channels = {};
  const channelsOut = process.argv[4];
  const n0 = shape.reduce((a, b) => a * b, 1);
  let real = null;
  if (process.argv[5]) { const buf = fs.readFileSync(process.argv[5]); real = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4); }
  const batches = real ? real.length / n0 : 4;
  let seed = 1;
  const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
  for (let b = 0; b < batches; ++b) {
    const n = n0, d = real ? real.slice(b * n, (b + 1) * n) : new Float32Array(n);
    if (!real) for (let i = 0; i < n; i += 2) { const u = rnd() + 1e-9, v = rnd(); const r = Math.sqrt(-2 * Math.log(u));
      d[i] = r * Math.cos(2 * Math.PI * v); if (i + 1 < n) d[i + 1] = r * Math.sin(2 * Math.PI * v); }
    const feeds = {}; feeds[s.inputNames[0]] = new ort.Tensor('float32', d, shape);
    ranges[s.inputNames[0]] = ranges[s.inputNames[0]] || [Infinity, -Infinity];
    for (const v of d) { ranges[s.inputNames[0]][0] = Math.min(ranges[s.inputNames[0]][0], v); ranges[s.inputNames[0]][1] = Math.max(ranges[s.inputNames[0]][1], v); }
    const out = await s.run(feeds);
    for (const k of Object.keys(out)) { const t = out[k]; if (t.type !== 'float32') continue;
      let lo = Infinity, hi = -Infinity; for (const v of t.data) { if (v < lo) lo = v; if (v > hi) hi = v; }
      const r = ranges[k] || [Infinity, -Infinity]; ranges[k] = [Math.min(r[0], lo), Math.max(r[1], hi)];
      if (channelsOut && t.dims.length === 4) {
        const [n, c, h, w] = t.dims, hw = h * w;
        const cr = channels[k] || [new Array(c).fill(Infinity), new Array(c).fill(-Infinity)];
        for (let i = 0; i < n; ++i) for (let j = 0; j < c; ++j) {
          const base = (i * c + j) * hw;
          for (let e = 0; e < hw; ++e) { const v = t.data[base + e]; if (v < cr[0][j]) cr[0][j] = v; if (v > cr[1][j]) cr[1][j] = v; }
        }
        channels[k] = cr;
      } }
  }
  console.log(JSON.stringify(ranges));
  if (channelsOut) fs.writeFileSync(channelsOut, JSON.stringify(channels));
})();
