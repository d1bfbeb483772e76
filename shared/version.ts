import pkg from '../package.json' with { type: 'json' };

/** Set by the bundler when a bundle is built with its own version (npm run bundle -- --version V). */
declare const __BOOTH_AGENT_VERSION__: string | undefined;

/** The agent's version, as written into every document's agent.version. */
export const AGENT_VERSION: string = typeof __BOOTH_AGENT_VERSION__ === 'string' ? __BOOTH_AGENT_VERSION__ : pkg.version;
