// Imported first by main.ts. got's type-checking dependency (@sindresorhus/is) builds two
// Intl.ListFormat objects when it is loaded, only to word error messages; building one loads
// ICU's data tables, ~5 MB of resident memory for the life of the agent. This makes the
// construction lazy: the real formatter is built the first time one is used.
const Eager = Intl.ListFormat;
type Args = ConstructorParameters<typeof Intl.ListFormat>;

class LazyListFormat {
  static supportedLocalesOf = Eager.supportedLocalesOf.bind(Eager);
  #args: Args;
  #real: Intl.ListFormat | undefined;

  constructor(...args: Args) {
    this.#args = args;
  }

  #formatter(): Intl.ListFormat {
    return (this.#real ??= new Eager(...this.#args));
  }

  format(list: Iterable<string>): string {
    return this.#formatter().format(list);
  }

  formatToParts(list: Iterable<string>): ReturnType<Intl.ListFormat['formatToParts']> {
    return this.#formatter().formatToParts(list);
  }

  resolvedOptions(): ReturnType<Intl.ListFormat['resolvedOptions']> {
    return this.#formatter().resolvedOptions();
  }
}

Object.defineProperty(Intl, 'ListFormat', { value: LazyListFormat, writable: true, configurable: true });
