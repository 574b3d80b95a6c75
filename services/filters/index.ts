/** containerd's filter syntax: parse filter strings, match them against adaptors. */
export { parse, parseAll, FilterParseError } from './parser';
export { always, checkMap, compileGoRegexp, type Adaptor, type Filter } from './filter';
