// The part of jsfive (a pure-JS HDF5 reader without its own types) that this package uses.
declare module 'jsfive' {
  export class Group {
    readonly keys: string[]
    readonly attrs: Record<string, unknown>
    get(path: string): Group | Dataset
  }
  export class File extends Group {
    constructor(buffer: ArrayBuffer, filename?: string)
  }
  export class Dataset {
    readonly shape: number[]
    readonly dtype: unknown
    readonly value: ArrayLike<number>
    readonly attrs: Record<string, unknown>
  }
}
