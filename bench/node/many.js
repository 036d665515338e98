// The official Sinch Node SDK (@sinch/sdk-core) in make bench's section
// "Many calls at once": the same GETs as client:map makes, by a pool of
// CONCURRENCY async workers, each taking the next phone number until none is
// left (the way a Node user writes it: the SDK has no helper for it).
//
//   node bench/node/many.js BASE_URL PROJECT CASE
//
// Settings from the environment: BENCH_MANY_N (200 GETs a round),
// BENCH_MANY_CONCURRENCY (20), BENCH_MANY_ROUNDS (5), after one round of
// warm-up (the token, connections, JIT). Prints one line per round, like
// bench/many.lua:
//   CASE\tround\t<n>\t<wall s>\t<cpu s>
// CPU is process.cpuUsage(): this process's user + system time.
'use strict';
const { SinchClient } = require('@sinch/sdk-core');

const [baseUrl, projectId, caseName] = process.argv.slice(2);
if (!caseName) {
  console.error('usage: node bench/node/many.js BASE_URL PROJECT CASE');
  process.exit(2);
}
const setting = (name, fallback) => Number(process.env[name] || fallback);
const n = setting('BENCH_MANY_N', 200);
const concurrency = setting('BENCH_MANY_CONCURRENCY', 20);
const rounds = setting('BENCH_MANY_ROUNDS', 5);

const sinch = new SinchClient({
  projectId,
  keyId: 'bench-key',
  keySecret: 'bench-secret',
  authHostname: baseUrl,
  numbersHostname: baseUrl,
});
const phones = Array.from({ length: n }, (_, i) => `+1206555${String(1000 + i).padStart(4, '0')}`);

async function roundOfGets() {
  let next = 0;
  async function worker() {
    while (next < phones.length) {
      const phone = phones[next++];
      const number = await sinch.numbers.activeNumber.get({ phoneNumber: phone });
      if (number.phoneNumber !== '+12065550100') throw new Error(`not the stub's number: ${number.phoneNumber}`);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
}

async function main() {
  await roundOfGets();
  for (let round = 0; round < rounds; round++) {
    const wall = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    await roundOfGets();
    const used = process.cpuUsage(cpu);
    const seconds = Number(process.hrtime.bigint() - wall) / 1e9;
    process.stdout.write(`${caseName}\tround\t${n}\t${seconds.toFixed(6)}\t${((used.user + used.system) / 1e6).toFixed(6)}\n`);
  }
}

main().catch((error) => {
  console.error(`bench/node/many.js: ${error.stack || error}`);
  process.exit(1);
});
