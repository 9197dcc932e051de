export { runCli } from './cli.js'
// The demo's embedded PostgreSQL (PGlite over the wire protocol), for examples and local tests.
export { type EmbeddedPostgres, startEmbeddedPostgres } from './demo/embedded-postgres.js'
export {
  createInboxServer,
  type InboxServer,
  type InboxServerOptions,
  type InboxStore,
} from './inbox/inbox-server.js'
export {
  InboxAuthError,
  type JwtReviewerAuthOptions,
  jwtReviewerAuth,
  type Reviewer,
  type ReviewerAuth,
  type ReviewerTokenEntry,
  reviewerTokensAuth,
  sharedSecretAuth,
} from './inbox/reviewer-auth.js'
export type { Io } from './internal/io.js'
