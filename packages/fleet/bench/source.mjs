// The benchmark's source: N examples of D deterministic values, random access, numeric ids.
const N = Number(process.env.KD_FLEET_BENCH_N ?? 4096);
const D = 64;
export const source = {
  kind: 'kd-source',
  size: N,
  exampleShape: [D],
  description: `fleet bench source (${N} x ${D})`,
  labels: Int32Array.from({ length: N }, (_, p) => p % 10),
  read(positions) {
    const x = new Float32Array(positions.length * D);
    positions.forEach((p, i) => {
      for (let j = 0; j < D; j++) x[i * D + j] = Math.sin(p * 12.9898 + j * 78.233);
    });
    return { x, y: Int32Array.from(positions, (p) => p % 10), ids: Array.from(positions) };
  },
};
