export { type CreateFetchOptions, createFetch } from './create-fetch.js'
export { describeHttp } from './describe-http.js'
