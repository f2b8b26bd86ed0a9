// The second ASL engine of the end-to-end tests: aws-local-stepfunctions
// runs each execution the sandbox recorded (definition, input, context
// object) with every Task state's resource replaced by the results the
// sandbox's task got, attempt by attempt, and prints what it makes of it:
// terminal status, error, cause and the top-level states entered.
//
// Usage: node e2e/aslcheck/run.mjs recordings.json  (Node >= 22; run from
// the repository root so that node_modules resolves).
import { readFileSync } from 'node:fs';
import { StateMachine } from 'aws-local-stepfunctions';

const recordings = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const results = [];
for (const rec of recordings) {
  results.push(await replay(rec));
}
process.stdout.write(JSON.stringify(results, null, 2) + '\n');

async function replay(rec) {
  const definition = JSON.parse(rec.definition);
  const queues = {};
  for (const t of rec.tasks) (queues[t.state] ??= []).push(t);
  const taskResourceLocalHandlers = {};
  const retryIntervalOverrides = {};
  const waitTimeOverrides = {};
  for (const [name, state] of Object.entries(definition.States)) {
    if (state.Type === 'Task') {
      // aws-local-stepfunctions 3.0.0 reads TimeoutSecondsPath from the
      // Parameters' output where AWS reads it from the state input ("Task
      // workflow state", Step Functions Developer Guide). Timing is the
      // sandbox's anyway: a timeout it recorded is replayed as its
      // States.Timeout error, so the replay gets a fixed, unreachable one.
      if (state.TimeoutSecondsPath !== undefined) {
        delete state.TimeoutSecondsPath;
        state.TimeoutSeconds = 86400;
      }
      delete state.HeartbeatSecondsPath;
      taskResourceLocalHandlers[name] = async () => {
        const next = queues[name]?.shift();
        if (!next) {
          const e = new Error(`the sandbox recorded no further result for task state ${name}`);
          e.name = 'SecondOpinion.NoRecordedResult';
          throw e;
        }
        if (next.error !== undefined && next.error !== null) {
          const e = new Error(next.cause ?? '');
          e.name = next.error;
          throw e;
        }
        return JSON.parse(next.output);
      };
    }
    // The sandbox already waited; replaying needs no pause.
    if (state.Retry) retryIntervalOverrides[name] = 0;
    if (state.Type === 'Wait') waitTimeOverrides[name] = 0;
  }
  const machine = new StateMachine(definition, { validationOptions: { checkArn: false, checkPaths: false } });
  const execution = machine.run(JSON.parse(rec.input), {
    overrides: { taskResourceLocalHandlers, retryIntervalOverrides, waitTimeOverrides },
    context: rec.context,
  });
  const states = [];
  const logs = (async () => {
    for await (const ev of execution.eventLogs) {
      if (ev.type === 'StateEntered' && ev.index === undefined) states.push(ev.state.name);
    }
  })();
  const out = { execution: rec.execution, states };
  try {
    await execution.result;
    out.status = 'SUCCEEDED';
  } catch (err) {
    out.status = 'FAILED';
    const cause = err.cause ?? err;
    out.error = cause.name;
    out.cause = cause.message;
  }
  await logs;
  out.unusedResults = Object.entries(queues).flatMap(([s, q]) => q.map(() => s));
  return out;
}
