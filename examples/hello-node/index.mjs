// hello-node is the Node.js twin of examples/hello: the sample target of a
// team whose functions run on Lambda's nodejs20.x runtime. It answers API
// Gateway's proxy events with {"message","version","stage"} and says which
// version answered. hello.json, packaged with the code, sets the greeting
// and a failure rate (0–1) for rollback demos: that share of calls throws,
// spread evenly rather than at random (see steady), so a run of calls shows
// about that share and a process's first call passes at any rate below 0.6.
import { readFileSync } from "node:fs";

const settings = JSON.parse(readFileSync(new URL("./hello.json", import.meta.url), "utf8"));
const greeting = settings.greeting ?? "Hello from Lambda";
const failureRate = Number(process.env.HELLO_FAILURE_RATE ?? settings.failureRate ?? 0);
if (!(failureRate >= 0 && failureRate <= 1)) {
  // Thrown at init: Lambda reports Runtime.ExitError, as examples/hello exits.
  throw new Error(`failure rate ${failureRate} must be a number between 0 and 1`);
}
const version = process.env.AWS_LAMBDA_FUNCTION_VERSION;

// steady returns the fractional parts of n·(φ−1) for n = 1, 2, 3, …: a
// low-discrepancy (Weyl) sequence in [0, 1), as examples/hello's steady.
const steady = (() => {
  let n = 0;
  return () => {
    n++;
    const x = (n * (Math.sqrt(5) - 1)) / 2;
    return x - Math.floor(x);
  };
})();

export const handler = async (event) => {
  if (failureRate > 0 && steady() < failureRate) {
    // A handled error: the runtime posts it to the Runtime API's /error
    // and logs it as "Invoke Error"; Lambda's REPORT line stays a success.
    throw new Error(`hello ${version}: injected failure (failure rate ${failureRate.toFixed(2)})`);
  }
  return {
    statusCode: 200,
    headers: { "Content-Type": "application/json", "X-Hello-Version": version },
    body: JSON.stringify({ message: greeting, version, stage: event?.requestContext?.stage || undefined }),
  };
};
