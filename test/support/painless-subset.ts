// Java values as OpenSearch scripts and templates see them, and a tiny Painless interpreter for the
// expression forms our monitors use (shared/opensearch/monitors.ts). Test support only.
//
// What it mirrors:
// - Values. The Alerting plugin hands scripts and mustache a search response that went through
//   JSON and back (`ToXContent.convertToMap()`: XContentHelper.convertToMap(bytes, ordered=false),
//   i.e. Jackson into HashMaps). So a JSON number with a decimal point is a java.lang.Double, one
//   without is an Integer/Long, and objects are java.util.HashMap — whose iteration order is the
//   hash order, not the JSON order (see javaHashMapOrder). Here: integral JS numbers are Java
//   integers (int/long), JavaDouble is a Java double, plain objects are maps, arrays are lists.
// - Number rendering: Double.toString (0.95 → "0.95", 3.0 → "3.0", 1.0E7), integers as digits.
// - Painless `def` semantics that decide whether a trigger ERRORs (DefMath / def shortcuts):
//   `map.key` is map.get(key) (null when absent); any member access, index, call or arithmetic or
//   ordering comparison on null throws NullPointerException; `==`/`!=` are null-safe and compare
//   numbers by value across int/double; `&&`, `||`, `!` need booleans (ClassCastException);
//   int/long arithmetic truncates on `/` ("/ by zero" ArithmeticException), a double operand makes
//   the result a double; list[i] out of range throws IndexOutOfBoundsException
//   ("Index 0 out of bounds for length 0"); `Math.round(double)` returns a long (floor(x + 0.5)).
//   The last statement may be a bare expression: its value is returned (Painless implicit return).
//
// What it does not cover (UnsupportedFeatureError, thrown loudly — never a silent guess): any
// syntax outside `def x = …;`, `return …;`, literals (int, decimal, 'string', "string", null,
// true, false), variables, `.member`, `.size()`, `Math.round(…)`, `[index]`, unary `!`/`-`,
// `* / % + -`, `< <= > >=`, `== !=`, `&& ||`, the null-safe `a?.b` and parentheses. No ternary, no loops, no
// typed declarations, no other methods, no regexes, no negative list indexes. Integers are JS
// numbers: no 32/64-bit overflow wrap-around. Error messages are ours (real Alerting reports a
// script failure as "runtime error" and keeps the Java exception in the cause): they name the
// Java exception type and the failing expression.

/** A feature the stand-in does not implement: thrown out of the test, never turned into a result. */
export class UnsupportedFeatureError extends Error {
  override name = 'UnsupportedFeatureError';
}

/** A java.lang.Double (a plain JS number stands for a Java int/long). */
export class JavaDouble {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
  toString(): string {
    return javaDoubleToString(this.value);
  }
}

/** A java.time.Instant: renders as Instant.toString() (ISO-8601, seconds always, millis when not zero). */
export class JavaInstant {
  readonly epochMillis: number;
  constructor(epochMillis: number) {
    this.epochMillis = epochMillis;
  }
  toString(): string {
    const iso = new Date(this.epochMillis).toISOString(); // 2024-06-01T12:00:00.000Z
    return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
  }
}

/** A Java object with fixed getters (a Kotlin data class such as the trigger execution context). */
export class JavaBean {
  readonly typeName: string;
  readonly fields: Readonly<Record<string, JavaValue>>;
  constructor(typeName: string, fields: Record<string, JavaValue>) {
    this.typeName = typeName;
    this.fields = fields;
  }
  toString(): string {
    return `${this.typeName}(${Object.entries(this.fields)
      .map(([k, v]) => `${k}=${javaToString(v)}`)
      .join(', ')})`;
  }
}

export type JavaValue = null | boolean | string | number | JavaDouble | JavaInstant | JavaBean | JavaValue[] | JavaMap;
export interface JavaMap {
  [key: string]: JavaValue;
}

export function isJavaMap(v: unknown): v is JavaMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof JavaDouble) && !(v instanceof JavaInstant) && !(v instanceof JavaBean);
}

/** Double.toString as in JDK 19+ (shortest repr; OpenSearch 2.x runs on JDK 21). */
export function javaDoubleToString(d: number): string {
  if (Number.isNaN(d)) return 'NaN';
  if (d === Infinity) return 'Infinity';
  if (d === -Infinity) return '-Infinity';
  if (d === 0) return Object.is(d, -0) ? '-0.0' : '0.0';
  const abs = Math.abs(d);
  if (abs >= 1e-3 && abs < 1e7) {
    const s = String(d);
    return s.includes('.') ? s : `${s}.0`;
  }
  const [mantissa, exponent] = d.toExponential().split('e') as [string, string];
  return `${mantissa.includes('.') ? mantissa : `${mantissa}.0`}E${Number(exponent)}`;
}

/** String.hashCode(). */
export function javaStringHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

/**
 * The order a java.util.HashMap built by inserting `keys` iterates them in: by bin
 * ((h ^ h >>> 16) & (capacity - 1), capacity 16 doubling past 0.75 load), insertion order within a
 * bin. Treeified bins (8+ collisions in one bin) are not modelled.
 */
export function javaHashMapOrder(keys: readonly string[]): string[] {
  let capacity = 16;
  while (keys.length > capacity * 0.75) capacity *= 2;
  return keys
    .map((key, i) => {
      const h = javaStringHash(key);
      return { key, i, bin: (h ^ (h >>> 16)) & (capacity - 1) };
    })
    .sort((a, b) => a.bin - b.bin || a.i - b.i)
    .map((e) => e.key);
}

/** Object.toString() of the Java value: what mustache.java writes for {{x}}. */
export function javaToString(v: JavaValue | undefined): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean' || typeof v === 'string') return String(v);
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : javaDoubleToString(v);
  if (v instanceof JavaDouble || v instanceof JavaInstant || v instanceof JavaBean) return v.toString();
  if (Array.isArray(v)) return `[${v.map(javaToString).join(', ')}]`;
  return `{${javaHashMapOrder(Object.keys(v))
    .map((k) => `${k}=${javaToString(v[k])}`)
    .join(', ')}}`;
}

export function javaTypeName(v: JavaValue | undefined): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return 'java.lang.Boolean';
  if (typeof v === 'string') return 'java.lang.String';
  if (typeof v === 'number') return Number.isInteger(v) && v >= -2147483648 && v <= 2147483647 ? 'java.lang.Integer' : 'java.lang.Long';
  if (v instanceof JavaDouble) return 'java.lang.Double';
  if (v instanceof JavaInstant) return 'java.time.Instant';
  if (v instanceof JavaBean) return v.typeName;
  if (Array.isArray(v)) return 'java.util.ArrayList';
  return 'java.util.HashMap';
}

/**
 * JSON (as parsed by JS) → Java values as Jackson would parse the same JSON text: integral
 * numbers → Integer/Long, others → Double. A double that happens to be integral (an avg of
 * exactly 95, written "95.0" by OpenSearch) cannot be told apart here: callers that know the
 * field is a double wrap it in JavaDouble first (see the executor's typing of metric values).
 */
export function fromJson(v: unknown): JavaValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isInteger(v) ? v : new JavaDouble(v);
  if (v instanceof JavaDouble || v instanceof JavaInstant || v instanceof JavaBean) return v;
  if (Array.isArray(v)) return v.map(fromJson);
  if (typeof v === 'object') {
    const out: JavaMap = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = fromJson(x);
    return out;
  }
  throw new UnsupportedFeatureError(`no Java value for a ${typeof v}`);
}

// ---------------------------------------------------------------------------------------------
// Painless

/** A Java exception a real script would throw (in-band: it becomes a trigger or search error). */
export class PainlessError extends Error {
  override name = 'PainlessError';
  readonly javaType: string;
  constructor(javaType: string, detail: string) {
    super(`${javaType}: ${detail}`);
    this.javaType = javaType;
  }
}

type Tok = { t: 'int' | 'dbl' | 'str' | 'id' | 'op' | 'eof'; v: string; pos: number };

const OPERATORS = ['&&', '||', '==', '!=', '<=', '>=', '<', '>', '+', '-', '*', '/', '%', '!', '(', ')', '[', ']', '?.', '.', ',', ';', '='];
const UNSUPPORTED_OPERATORS = ['===', '!==', '==~', '=~', '?.', '?:', '->', '::', '++', '--', '+=', '-=', '*=', '/=', '%=', '&=', '|=', '^=', '<<', '>>', '?', ':', '{', '}', '&', '|', '^', '~', '@', '$', '#'];
const UNSUPPORTED_WORDS = new Set([
  'if', 'else', 'for', 'while', 'do', 'new', 'instanceof', 'in', 'try', 'catch', 'throw', 'break', 'continue', 'var',
  'int', 'long', 'double', 'float', 'short', 'byte', 'char', 'boolean', 'String', 'Map', 'List', 'Object', 'void',
  'this', 'doc', 'emit', 'state', '_value', 'Integer', 'Long', 'Double',
]);

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (src.startsWith('//', i) || src.startsWith('/*', i)) throw new UnsupportedFeatureError(`painless-subset: comments are not supported (at ${i} in "${src}")`);
    const num = /^\d+(\.\d+)?/.exec(src.slice(i));
    if (num) {
      const after = src[i + num[0].length];
      if (after !== undefined && /[A-Za-z_.]/.test(after)) throw new UnsupportedFeatureError(`painless-subset: numeric literal form "${src.slice(i, i + num[0].length + 1)}" is not supported`);
      if (num[1] === undefined && Number(num[0]) > 2147483647) throw new UnsupportedFeatureError(`painless-subset: int literal ${num[0]} out of int range`);
      out.push({ t: num[1] === undefined ? 'int' : 'dbl', v: num[0], pos: i });
      i += num[0].length;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let s = '';
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\') {
          const e = src[j + 1];
          if (e !== '\\' && e !== c) throw new UnsupportedFeatureError(`painless-subset: string escape \\${e} is not supported`);
          s += e;
          j += 2;
        } else s += src[j++];
      }
      if (j >= src.length) throw new UnsupportedFeatureError(`painless-subset: unterminated string in "${src}"`);
      out.push({ t: 'str', v: s, pos: i });
      i = j + 1;
      continue;
    }
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (id) {
      out.push({ t: 'id', v: id[0], pos: i });
      i += id[0].length;
      continue;
    }
    const bad = UNSUPPORTED_OPERATORS.find((op) => src.startsWith(op, i) && !OPERATORS.some((ok) => ok.length >= op.length && src.startsWith(ok, i)));
    if (bad) throw new UnsupportedFeatureError(`painless-subset: operator "${bad}" is not supported (in "${src}")`);
    const op = OPERATORS.find((o) => src.startsWith(o, i));
    if (!op) throw new UnsupportedFeatureError(`painless-subset: unexpected character "${c}" (in "${src}")`);
    out.push({ t: 'op', v: op, pos: i });
    i += op.length;
  }
  out.push({ t: 'eof', v: '', pos: src.length });
  return out;
}

type Expr = { start: number; end: number } & (
  | { k: 'lit'; v: JavaValue }
  | { k: 'var'; name: string }
  /** `nullSafe`: `a?.b` is null when a is. */
  | { k: 'member'; obj: Expr; name: string; nullSafe?: boolean }
  | { k: 'call'; obj: Expr; name: string; args: Expr[] }
  | { k: 'math'; name: string; args: Expr[] }
  | { k: 'index'; obj: Expr; index: Expr }
  | { k: 'unary'; op: '!' | '-'; e: Expr }
  | { k: 'bin'; op: string; l: Expr; r: Expr }
);
type Stmt = { k: 'def'; name: string; init: Expr } | { k: 'return'; e: Expr } | { k: 'expr'; e: Expr };

class Parser {
  private i = 0;
  private readonly toks: Tok[];
  private readonly src: string;
  constructor(src: string) {
    this.src = src;
    this.toks = tokenize(src);
  }
  private peek(): Tok {
    return this.toks[this.i]!;
  }
  private next(): Tok {
    return this.toks[this.i++]!;
  }
  private isOp(v: string): boolean {
    const t = this.peek();
    return t.t === 'op' && t.v === v;
  }
  private expectOp(v: string): Tok {
    const t = this.next();
    if (t.t !== 'op' || t.v !== v) throw new UnsupportedFeatureError(`painless-subset: expected "${v}" at ${t.pos} in "${this.src}", found "${t.v || 'end'}"`);
    return t;
  }

  script(): Stmt[] {
    const stmts: Stmt[] = [];
    while (this.peek().t !== 'eof') {
      const t = this.peek();
      let s: Stmt;
      if (t.t === 'id' && t.v === 'def') {
        this.next();
        const name = this.next();
        if (name.t !== 'id') throw new UnsupportedFeatureError(`painless-subset: expected a variable name after def in "${this.src}"`);
        this.expectOp('=');
        s = { k: 'def', name: name.v, init: this.expr() };
      } else if (t.t === 'id' && t.v === 'return') {
        this.next();
        s = { k: 'return', e: this.expr() };
      } else {
        s = { k: 'expr', e: this.expr() };
      }
      stmts.push(s);
      if (this.isOp(';')) this.next();
      else if (this.peek().t !== 'eof') throw new UnsupportedFeatureError(`painless-subset: expected ";" at ${this.peek().pos} in "${this.src}"`);
      if (s.k === 'return' && this.peek().t !== 'eof') throw new PainlessError('compile error', `unreachable statement after return in "${this.src}"`);
      if (s.k === 'expr' && this.peek().t !== 'eof') throw new PainlessError('compile error', `not a statement: result not used, in "${this.src}"`);
    }
    if (stmts.length === 0) throw new UnsupportedFeatureError('painless-subset: empty script');
    return stmts;
  }

  private expr(): Expr {
    return this.binary(0);
  }

  private static readonly LEVELS = [['||'], ['&&'], ['==', '!='], ['<', '<=', '>', '>='], ['+', '-'], ['*', '/', '%']];

  private binary(level: number): Expr {
    if (level >= Parser.LEVELS.length) return this.unary();
    let l = this.binary(level + 1);
    for (;;) {
      const t = this.peek();
      if (t.t !== 'op' || !Parser.LEVELS[level]!.includes(t.v)) return l;
      this.next();
      const r = this.binary(level + 1);
      l = { k: 'bin', op: t.v, l, r, start: l.start, end: r.end };
    }
  }

  private unary(): Expr {
    const t = this.peek();
    if (t.t === 'op' && (t.v === '!' || t.v === '-')) {
      this.next();
      const e = this.unary();
      return { k: 'unary', op: t.v, e, start: t.pos, end: e.end };
    }
    return this.postfix();
  }

  private postfix(): Expr {
    let e = this.primary();
    for (;;) {
      if (this.isOp('?.')) {
        this.next();
        const name = this.next();
        if (name.t !== 'id' || this.isOp('(')) throw new UnsupportedFeatureError(`painless-subset: only a null-safe member access is supported after "?." (at ${name.pos} in "${this.src}")`);
        e = { k: 'member', obj: e, name: name.v, nullSafe: true, start: e.start, end: name.pos + name.v.length };
      } else if (this.isOp('.')) {
        this.next();
        const name = this.next();
        if (name.t !== 'id') throw new UnsupportedFeatureError(`painless-subset: expected a member name at ${name.pos} in "${this.src}"`);
        if (this.isOp('(')) {
          const args = this.args();
          const end = this.toks[this.i - 1]!.pos + 1;
          if (e.k === 'var' && e.name === 'Math') e = { k: 'math', name: name.v, args, start: e.start, end };
          else e = { k: 'call', obj: e, name: name.v, args, start: e.start, end };
        } else {
          if (e.k === 'var' && e.name === 'Math') throw new UnsupportedFeatureError(`painless-subset: Math.${name.v} is not supported`);
          e = { k: 'member', obj: e, name: name.v, start: e.start, end: name.pos + name.v.length };
        }
      } else if (this.isOp('[')) {
        this.next();
        const index = this.expr();
        const close = this.expectOp(']');
        e = { k: 'index', obj: e, index, start: e.start, end: close.pos + 1 };
      } else if (this.isOp('(')) {
        throw new UnsupportedFeatureError(`painless-subset: calling "${this.src.slice(e.start, e.end)}" is not supported`);
      } else return e;
    }
  }

  private args(): Expr[] {
    this.expectOp('(');
    const args: Expr[] = [];
    if (this.isOp(')')) {
      this.next();
      return args;
    }
    for (;;) {
      args.push(this.expr());
      if (this.isOp(',')) this.next();
      else {
        this.expectOp(')');
        return args;
      }
    }
  }

  private primary(): Expr {
    const t = this.next();
    const at = { start: t.pos, end: t.pos + t.v.length };
    if (t.t === 'int') return { k: 'lit', v: Number(t.v), ...at };
    if (t.t === 'dbl') return { k: 'lit', v: new JavaDouble(Number(t.v)), ...at };
    if (t.t === 'str') return { k: 'lit', v: t.v, start: t.pos, end: t.pos + t.v.length + 2 };
    if (t.t === 'id') {
      if (t.v === 'null') return { k: 'lit', v: null, ...at };
      if (t.v === 'true') return { k: 'lit', v: true, ...at };
      if (t.v === 'false') return { k: 'lit', v: false, ...at };
      if (t.v === 'def' || t.v === 'return' || UNSUPPORTED_WORDS.has(t.v)) throw new UnsupportedFeatureError(`painless-subset: "${t.v}" is not supported here (at ${t.pos} in "${this.src}")`);
      return { k: 'var', name: t.v, ...at };
    }
    if (t.t === 'op' && t.v === '(') {
      const e = this.expr();
      const close = this.expectOp(')');
      return { ...e, start: t.pos, end: close.pos + 1 };
    }
    throw new UnsupportedFeatureError(`painless-subset: unexpected "${t.v || 'end of script'}" at ${t.pos} in "${this.src}"`);
  }
}

const compiled = new Map<string, Stmt[]>();

/** Parses a script (cached). Throws UnsupportedFeatureError for anything outside the subset. */
export function compilePainless(source: string): Stmt[] {
  let s = compiled.get(source);
  if (!s) {
    s = new Parser(source).script();
    compiled.set(source, s);
  }
  return s;
}

type Num = { double: boolean; v: number };

class Interpreter {
  private readonly src: string;
  private readonly vars: Map<string, JavaValue>;
  constructor(src: string, vars: Record<string, JavaValue>) {
    this.src = src;
    this.vars = new Map(Object.entries(vars));
  }
  private text(e: Expr): string {
    return this.src.slice(e.start, e.end);
  }

  run(stmts: Stmt[]): JavaValue {
    let last: JavaValue = null;
    for (const s of stmts) {
      if (s.k === 'def') {
        if (this.vars.has(s.name)) throw new PainlessError('compile error', `variable [${s.name}] is already defined`);
        this.vars.set(s.name, this.eval(s.init));
        last = null;
      } else if (s.k === 'return') return this.eval(s.e);
      else last = this.eval(s.e);
    }
    return last;
  }

  private npe(e: Expr, what: string): PainlessError {
    return new PainlessError('java.lang.NullPointerException', `${what} on a null value (${this.text(e)})`);
  }

  eval(e: Expr): JavaValue {
    switch (e.k) {
      case 'lit':
        return e.v;
      case 'var': {
        if (e.name === 'Math') throw new UnsupportedFeatureError('painless-subset: Math is only supported as Math.round(…)');
        if (!this.vars.has(e.name)) throw new PainlessError('compile error', `cannot resolve symbol [${e.name}]`);
        return this.vars.get(e.name)!;
      }
      case 'member': {
        const o = this.eval(e.obj);
        if (o === null && e.nullSafe) return null;
        if (o === null) throw this.npe(e, `cannot access [${e.name}]`);
        if (isJavaMap(o)) return Object.hasOwn(o, e.name) ? o[e.name]! : null;
        if (o instanceof JavaBean) {
          if (Object.hasOwn(o.fields, e.name)) return o.fields[e.name]!;
          throw new PainlessError('java.lang.IllegalArgumentException', `dynamic getter [${o.typeName}, ${e.name}] not found (${this.text(e)})`);
        }
        if (Array.isArray(o) && e.name === 'empty') throw new UnsupportedFeatureError('painless-subset: list.empty is not supported');
        throw new PainlessError('java.lang.IllegalArgumentException', `dynamic getter [${javaTypeName(o)}, ${e.name}] not found (${this.text(e)})`);
      }
      case 'call': {
        if (e.name !== 'size' || e.args.length !== 0) throw new UnsupportedFeatureError(`painless-subset: method ${e.name}/${e.args.length} is not supported (${this.text(e)})`);
        const o = this.eval(e.obj);
        if (o === null) throw this.npe(e, 'cannot call [size()]');
        if (Array.isArray(o)) return o.length;
        if (isJavaMap(o)) return Object.keys(o).length;
        throw new PainlessError('java.lang.IllegalArgumentException', `dynamic method [${javaTypeName(o)}, size/0] not found (${this.text(e)})`);
      }
      case 'math': {
        if (e.name !== 'round' || e.args.length !== 1) throw new UnsupportedFeatureError(`painless-subset: Math.${e.name}/${e.args.length} is not supported`);
        const n = this.num(e.args[0]!, this.eval(e.args[0]!), 'Math.round');
        if (!n.double) return n.v;
        if (Number.isNaN(n.v)) return 0;
        return Math.floor(n.v + 0.5);
      }
      case 'index': {
        const o = this.eval(e.obj);
        const idx = this.eval(e.index);
        if (o === null) throw this.npe(e, 'cannot index');
        if (Array.isArray(o)) {
          if (typeof idx !== 'number' || !Number.isInteger(idx)) throw new PainlessError('java.lang.ClassCastException', `list index must be an int, got ${javaTypeName(idx)} (${this.text(e)})`);
          if (idx < 0) throw new UnsupportedFeatureError('painless-subset: negative list indexes are not supported');
          if (idx >= o.length) throw new PainlessError('java.lang.IndexOutOfBoundsException', `Index ${idx} out of bounds for length ${o.length} (${this.text(e)})`);
          return o[idx]!;
        }
        if (isJavaMap(o)) {
          if (typeof idx !== 'string') throw new UnsupportedFeatureError(`painless-subset: map keys other than strings (${this.text(e)})`);
          return Object.hasOwn(o, idx) ? o[idx]! : null;
        }
        throw new PainlessError('java.lang.IllegalArgumentException', `cannot index a ${javaTypeName(o)} (${this.text(e)})`);
      }
      case 'unary': {
        const v = this.eval(e.e);
        if (e.op === '!') return !this.bool(e.e, v, '!');
        const n = this.num(e.e, v, '-');
        return n.double ? new JavaDouble(-n.v) : -n.v;
      }
      case 'bin':
        return this.binary(e);
    }
  }

  private bool(e: Expr, v: JavaValue, op: string): boolean {
    if (typeof v === 'boolean') return v;
    if (v === null) throw this.npe(e, `cannot apply [${op}]`);
    throw new PainlessError('java.lang.ClassCastException', `Cannot cast ${javaTypeName(v)} to java.lang.Boolean for [${op}] (${this.text(e)})`);
  }

  private num(e: Expr, v: JavaValue, op: string, other?: JavaValue): Num {
    if (typeof v === 'number') return { double: !Number.isInteger(v), v };
    if (v instanceof JavaDouble) return { double: true, v: v.value };
    if (v === null) throw this.npe(e, `cannot apply [${op}]`);
    throw new PainlessError(
      'java.lang.ClassCastException',
      `Cannot apply [${op}] operation to types [${javaTypeName(v)}]${other !== undefined ? ` and [${javaTypeName(other)}]` : ''} (${this.text(e)})`,
    );
  }

  private binary(e: Expr & { k: 'bin' }): JavaValue {
    if (e.op === '&&' || e.op === '||') {
      const l = this.bool(e.l, this.eval(e.l), e.op);
      if (e.op === '&&' ? !l : l) return l;
      return this.bool(e.r, this.eval(e.r), e.op);
    }
    const l = this.eval(e.l);
    const r = this.eval(e.r);
    if (e.op === '==') return javaEquals(l, r);
    if (e.op === '!=') return !javaEquals(l, r);
    if (e.op === '+' && (typeof l === 'string' || typeof r === 'string')) return javaToString(l) + javaToString(r);
    const a = this.num(e.l, l, e.op, r);
    const b = this.num(e.r, r, e.op, l);
    const double = a.double || b.double;
    switch (e.op) {
      case '<':
        return a.v < b.v;
      case '<=':
        return a.v <= b.v;
      case '>':
        return a.v > b.v;
      case '>=':
        return a.v >= b.v;
    }
    let v: number;
    switch (e.op) {
      case '+':
        v = a.v + b.v;
        break;
      case '-':
        v = a.v - b.v;
        break;
      case '*':
        v = a.v * b.v;
        break;
      case '/':
        if (!double && b.v === 0) throw new PainlessError('java.lang.ArithmeticException', `/ by zero (${this.text(e)})`);
        v = double ? a.v / b.v : Math.trunc(a.v / b.v);
        break;
      case '%':
        if (!double && b.v === 0) throw new PainlessError('java.lang.ArithmeticException', `/ by zero (${this.text(e)})`);
        v = a.v % b.v;
        break;
      default:
        throw new UnsupportedFeatureError(`painless-subset: operator ${e.op}`);
    }
    return double ? new JavaDouble(v) : v;
  }
}

/** `==` on def values: null-safe, numbers by value across int/double, otherwise equals(). */
export function javaEquals(a: JavaValue, b: JavaValue): boolean {
  if (a === null || b === null) return a === b;
  const an = typeof a === 'number' ? a : a instanceof JavaDouble ? a.value : undefined;
  const bn = typeof b === 'number' ? b : b instanceof JavaDouble ? b.value : undefined;
  if (an !== undefined || bn !== undefined) return an !== undefined && bn !== undefined && an === bn;
  if (typeof a !== 'object' || typeof b !== 'object') return a === b;
  if (a instanceof JavaInstant || b instanceof JavaInstant) return a instanceof JavaInstant && b instanceof JavaInstant && a.epochMillis === b.epochMillis;
  if (a instanceof JavaBean || b instanceof JavaBean) return a === b;
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => javaEquals(x, b[i]!));
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && javaEquals((a as JavaMap)[k]!, (b as JavaMap)[k]!));
}

/**
 * Runs a Painless script with the given variables (`params`, `ctx`, …). Returns the script's
 * value. Throws PainlessError for what real Painless would throw at compile or run time, and
 * UnsupportedFeatureError for constructs outside the subset.
 */
export function runPainless(source: string, vars: Record<string, JavaValue>): JavaValue {
  return new Interpreter(source, vars).run(compilePainless(source));
}

/** The script objects monitors use: {source, lang: painless, params?} or a bare source string. */
export function scriptSource(script: unknown, where: string): { source: string; params: JavaMap } {
  if (typeof script === 'string') return { source: script, params: {} };
  if (typeof script !== 'object' || script === null) throw new UnsupportedFeatureError(`${where}: script must be an object or a string`);
  const { source, lang, params, ...rest } = script as Record<string, unknown>;
  if (Object.keys(rest).length) throw new UnsupportedFeatureError(`${where}: script keys [${Object.keys(rest).join(', ')}] are not supported (stored scripts, options)`);
  if (typeof source !== 'string') throw new UnsupportedFeatureError(`${where}: script.source must be a string`);
  if (lang !== undefined && lang !== 'painless') throw new UnsupportedFeatureError(`${where}: script lang [${String(lang)}] is not supported (painless only)`);
  if (params !== undefined && (typeof params !== 'object' || params === null || Array.isArray(params))) throw new UnsupportedFeatureError(`${where}: script.params must be an object`);
  return { source, params: (fromJson(params ?? {}) as JavaMap) };
}
