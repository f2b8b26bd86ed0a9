// Answers which Node.js runs the handler and which runtime Lambda says it is.
export const handler = async () => ({ node: process.versions.node, executionEnv: process.env.AWS_EXECUTION_ENV });
