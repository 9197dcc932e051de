// Statement kind (libpg-query node name) → the upper-case type policies see in `sql.types`.
// Node names that are not listed fall back by prefix (Create*/Alter*/Drop*), else `OTHER`
// (parsers.md §1.1: unknown nodes are OTHER and still walked).

type Body = Record<string, unknown>

const FIXED: Readonly<Record<string, string>> = {
  SelectStmt: 'SELECT',
  InsertStmt: 'INSERT',
  UpdateStmt: 'UPDATE',
  DeleteStmt: 'DELETE',
  MergeStmt: 'MERGE',
  CopyStmt: 'COPY',
  DoStmt: 'DO',
  CallStmt: 'CALL',
  ExplainStmt: 'EXPLAIN',
  PrepareStmt: 'PREPARE',
  ExecuteStmt: 'EXECUTE',
  DeallocateStmt: 'DEALLOCATE',
  VariableShowStmt: 'SHOW',
  TruncateStmt: 'TRUNCATE',
  IndexStmt: 'CREATE',
  ViewStmt: 'CREATE',
  DefineStmt: 'CREATE',
  RuleStmt: 'CREATE',
  CompositeTypeStmt: 'CREATE',
  CreateTableAsStmt: 'CREATE',
  RenameStmt: 'ALTER',
  AlterSystemStmt: 'ALTER',
  LockStmt: 'LOCK',
  DeclareCursorStmt: 'DECLARE',
  ClosePortalStmt: 'CLOSE',
  ListenStmt: 'LISTEN',
  UnlistenStmt: 'UNLISTEN',
  NotifyStmt: 'NOTIFY',
  DiscardStmt: 'DISCARD',
  CheckPointStmt: 'CHECKPOINT',
  ReindexStmt: 'REINDEX',
  ClusterStmt: 'CLUSTER',
  CommentStmt: 'COMMENT',
  SecLabelStmt: 'SECURITY LABEL',
  RefreshMatViewStmt: 'REFRESH',
  LoadStmt: 'LOAD',
  ReassignOwnedStmt: 'REASSIGN',
  ConstraintsSetStmt: 'SET',
  ImportForeignSchemaStmt: 'IMPORT',
}

const TRANSACTION: Readonly<Record<string, string>> = {
  TRANS_STMT_BEGIN: 'BEGIN',
  TRANS_STMT_START: 'BEGIN',
  TRANS_STMT_COMMIT: 'COMMIT',
  TRANS_STMT_ROLLBACK: 'ROLLBACK',
  TRANS_STMT_SAVEPOINT: 'SAVEPOINT',
  TRANS_STMT_RELEASE: 'RELEASE',
  TRANS_STMT_ROLLBACK_TO: 'ROLLBACK',
  TRANS_STMT_PREPARE: 'PREPARE TRANSACTION',
  TRANS_STMT_COMMIT_PREPARED: 'COMMIT PREPARED',
  TRANS_STMT_ROLLBACK_PREPARED: 'ROLLBACK PREPARED',
}

/** Transaction-control statement types (TransactionStmt). */
export const TRANSACTION_TYPES: ReadonlySet<string> = new Set(Object.values(TRANSACTION))

/** Types that neither write data nor change schema by themselves (their nested statements still count). */
export const READ_ONLY_TYPES: ReadonlySet<string> = new Set([
  'SELECT',
  'EXPLAIN',
  'SHOW',
  'SET',
  'RESET',
  'BEGIN',
  'COMMIT',
  'ROLLBACK',
  'SAVEPOINT',
  'RELEASE',
  'DECLARE',
  'FETCH',
  'MOVE',
  'CLOSE',
  'LISTEN',
  'UNLISTEN',
  'NOTIFY',
  'PREPARE',
  'DEALLOCATE',
  'DISCARD',
  'COPY', // COPY FROM reports its table in `writes`
  'DO', // the body's statements decide
])

export function statementType(kind: string, body: Body): string {
  const fixed = FIXED[kind]
  if (fixed !== undefined) return fixed
  switch (kind) {
    case 'VariableSetStmt':
      return body.kind === 'VAR_RESET' || body.kind === 'VAR_RESET_ALL' ? 'RESET' : 'SET'
    case 'TransactionStmt':
      return TRANSACTION[String(body.kind)] ?? 'OTHER'
    case 'GrantStmt':
    case 'GrantRoleStmt':
      return body.is_grant === true ? 'GRANT' : 'REVOKE'
    case 'VacuumStmt':
      return body.is_vacuumcmd === true ? 'VACUUM' : 'ANALYZE'
    case 'FetchStmt':
      return body.ismove === true ? 'MOVE' : 'FETCH'
  }
  if (kind.startsWith('Create')) return 'CREATE'
  if (kind.startsWith('Alter')) return 'ALTER'
  if (kind.startsWith('Drop')) return 'DROP'
  return 'OTHER'
}

/** Node names that hold a statement (used to tell statements from expressions while walking). */
export function isStatementKind(kind: string): boolean {
  return kind.endsWith('Stmt')
}
