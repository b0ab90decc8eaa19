import { packageConfig } from '../../tools/build/tsup'

export default packageConfig()
