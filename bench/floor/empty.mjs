// Node's own floor (bench/network.bench.ts): an ES module that does nothing but stay alive, run with
// the service's flags. Plain JavaScript on purpose: loading TypeScript would be counted too.
setInterval(() => {}, 1 << 30);
