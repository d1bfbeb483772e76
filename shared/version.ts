import pkg from '../package.json' with { type: 'json' };

/** The agent's version, as written into every document's agent.version. */
export const AGENT_VERSION: string = pkg.version;
