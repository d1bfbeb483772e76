// Imported first by main.ts, after lazy-intl.ts. got asks `body instanceof FormData` and
// `body instanceof ReadableStream` of every request with a body (every _bulk, every upload). In
// Node both globals load their implementation the first time they are touched — even
// Object.getOwnPropertyDescriptor does: FormData loads undici, Node's whole fetch (+18 MB of
// resident memory on the idle agent, for the life of the process), ReadableStream the web streams
// (+2.6 MB). The agent never sends a form or a web stream.
// The bundle (scripts/agent-module.ts) points the bundled code's `FormData` and `ReadableStream` at
// these stand-ins; the globals themselves are left alone. A stand-in answers `instanceof` without
// loading anything — no value can be a real instance before the real class was loaded, and one
// that carries the class's tag is checked against the real class — and `new` builds a real one.

type AnyClass = new (...args: unknown[]) => object;

function standIn(name: 'FormData' | 'ReadableStream'): AnyClass {
  const tag = `[object ${name}]`;
  const real = () => (globalThis as unknown as Record<string, AnyClass>)[name]!;
  return {
    [name]: class {
      constructor(...args: unknown[]) {
        return new (real())(...args);
      }

      static [Symbol.hasInstance](value: unknown): boolean {
        return Object.prototype.toString.call(value) === tag && value instanceof real();
      }
    },
  }[name]!;
}

/** Where the bundle's `define` sends the two names (LAZY_WEB_GLOBALS in scripts/agent-module.ts). */
(globalThis as unknown as { __boothAgentLazyGlobals: Record<string, AnyClass> }).__boothAgentLazyGlobals = {
  FormData: standIn('FormData'),
  ReadableStream: standIn('ReadableStream'),
};
