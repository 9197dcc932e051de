export { createFetch, type CreateFetchOptions } from './create-fetch.js'
export { describeHttp } from './describe-http.js'
