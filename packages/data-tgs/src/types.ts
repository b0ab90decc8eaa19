/** A train image with its mask, as read from disk or generated. */
export interface TgsSample {
  /** The Kaggle id (10 hex characters for real data). */
  id: string
  /** Row-major grey values in [0, 1], `height × width` of them (101 × 101 for TGS). */
  image: Float32Array
  /** Row-major 0/1 salt mask, same size as `image`. */
  mask: Uint8Array
  /** Depth in feet from `depths.csv` (`NaN` only when missing depths were allowed). */
  depth: number
  /** Salt pixels / all pixels. */
  coverage: number
  /** `ceil(coverage × 10)`, 0 … 10: what splits are stratified by. */
  coverageClass: number
  height: number
  width: number
}

/** A test image: no mask. */
export interface TgsTestImage {
  id: string
  /** Row-major grey values in [0, 1]. */
  image: Float32Array
  /** Depth in feet (`NaN` only when missing depths were allowed). */
  depth: number
  height: number
  width: number
}

/** Height and width of an image or mask. */
export interface ImageShape {
  height: number
  width: number
}
