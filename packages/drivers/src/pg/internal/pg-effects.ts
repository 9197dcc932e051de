// PostgreSQL built-in functions whose effects a read-only transaction does not stop (or that are
// writes by another name), as `sql.effects`. Audited against pg_proc of PostgreSQL 15–18 (every
// volatile or parallel-restricted pg_catalog function and every such function of the contrib
// modules shipped with 15; see docs/pg.md, "How the effects table was checked").
// Names are matched bare (whatever the schema): a user function of the same name is treated as
// the built-in, which can only over-deny.

import type { SqlEffect } from '@warden/policy'

export interface FunctionEffect {
  readonly effects: readonly SqlEffect[]
  /** The effect is a write (of data, files or persistent state): it sets `sql.write`. */
  readonly write: boolean
}

const e = (write: boolean, ...effects: SqlEffect[]): FunctionEffect => Object.freeze({ effects, write })

const LO_READ = e(false, 'large_object')
const LO_WRITE = e(true, 'large_object')
const SIGNAL = e(false, 'signal_backend')
const CONFIG = e(false, 'server_config')
const CONFIG_WRITE = e(true, 'server_config')
const WAL = e(false, 'wal')
const WAL_WRITE = e(true, 'wal')
const FILE_READ = e(false, 'server_file')
const FILE_WRITE = e(true, 'server_file')
const ADVISORY = e(false, 'advisory_lock')
const REMOTE = e(true, 'remote')
const SEQUENCE = e(true, 'sequence')
// Rewrites index or heap pages directly (like REINDEX, a write no family names).
const PAGE_WRITE = e(true)

const EXACT: ReadonlyMap<string, FunctionEffect> = new Map<string, FunctionEffect>([
  // Large objects: not stopped by a read-only transaction (lo_* write pg_largeobject directly).
  ['lo_create', LO_WRITE],
  ['lo_creat', LO_WRITE],
  ['lo_unlink', LO_WRITE],
  ['lo_put', LO_WRITE],
  ['lo_from_bytea', LO_WRITE],
  ['lowrite', LO_WRITE],
  ['lo_truncate', LO_WRITE],
  ['lo_truncate64', LO_WRITE],
  ['lo_import', e(true, 'large_object', 'server_file')],
  ['lo_export', e(true, 'large_object', 'server_file')],
  ['lo_open', LO_READ],
  ['lo_close', LO_READ],
  ['lo_get', LO_READ],
  ['loread', LO_READ],
  ['lo_lseek', LO_READ],
  ['lo_lseek64', LO_READ],
  ['lo_tell', LO_READ],
  ['lo_tell64', LO_READ],
  // Other sessions.
  ['pg_cancel_backend', SIGNAL],
  ['pg_terminate_backend', SIGNAL],
  ['pg_log_backend_memory_contexts', SIGNAL],
  // Server-wide configuration and state.
  ['pg_reload_conf', CONFIG],
  ['pg_rotate_logfile', CONFIG],
  ['pg_rotate_logfile_old', CONFIG],
  ['pg_promote', CONFIG],
  ['pg_wal_replay_pause', CONFIG],
  ['pg_wal_replay_resume', CONFIG],
  ['pg_start_backup', CONFIG],
  ['pg_stop_backup', CONFIG],
  ['pg_backup_start', CONFIG],
  ['pg_backup_stop', CONFIG],
  ['pg_import_system_collations', CONFIG_WRITE],
  ['pg_extension_config_dump', CONFIG_WRITE],
  ['pg_stop_making_pinned_objects', CONFIG_WRITE],
  ['pg_nextoid', CONFIG_WRITE],
  ['pg_stat_force_next_flush', CONFIG],
  // Planner statistics restored or cleared in pg_class/pg_statistic (18+; extended: 19 devel).
  ['pg_restore_relation_stats', CONFIG_WRITE],
  ['pg_restore_attribute_stats', CONFIG_WRITE],
  ['pg_restore_extended_stats', CONFIG_WRITE],
  ['pg_clear_relation_stats', CONFIG_WRITE],
  ['pg_clear_attribute_stats', CONFIG_WRITE],
  ['pg_clear_extended_stats', CONFIG_WRITE],
  // Index and heap maintenance a read-only transaction lets through (pg_surgery, pg_visibility).
  ['brin_summarize_new_values', PAGE_WRITE],
  ['brin_summarize_range', PAGE_WRITE],
  ['brin_desummarize_range', PAGE_WRITE],
  ['gin_clean_pending_list', PAGE_WRITE],
  ['heap_force_kill', PAGE_WRITE],
  ['heap_force_freeze', PAGE_WRITE],
  ['pg_truncate_visibility_map', PAGE_WRITE],
  // Shared buffers and statistics of every session (pg_prewarm, pg_stat_statements).
  ['pg_prewarm', CONFIG],
  ['autoprewarm_start_worker', CONFIG],
  ['autoprewarm_dump_now', FILE_WRITE],
  ['pg_stat_statements_reset', CONFIG],
  // WAL and replication.
  ['pg_switch_wal', WAL],
  ['pg_switch_xlog', WAL],
  ['pg_log_standby_snapshot', WAL],
  // Assigns a transaction ID in a read-only transaction: its commit is logged, XIDs are consumed.
  ['pg_current_xact_id', WAL],
  ['txid_current', WAL],
  ['pg_sync_replication_slots', WAL_WRITE],
  ['pg_create_restore_point', WAL],
  ['pg_logical_emit_message', WAL_WRITE],
  ['pg_create_physical_replication_slot', WAL_WRITE],
  ['pg_create_logical_replication_slot', WAL_WRITE],
  ['pg_copy_physical_replication_slot', WAL_WRITE],
  ['pg_copy_logical_replication_slot', WAL_WRITE],
  ['pg_drop_replication_slot', WAL_WRITE],
  ['pg_replication_slot_advance', WAL_WRITE],
  ['pg_logical_slot_get_changes', WAL_WRITE],
  ['pg_logical_slot_get_binary_changes', WAL_WRITE],
  ['pg_logical_slot_peek_changes', WAL],
  ['pg_logical_slot_peek_binary_changes', WAL],
  // Notifications.
  ['pg_notify', e(false, 'notify')],
  // Server files (read: pg_read_server_files; written: adminpack).
  ['pg_read_file', FILE_READ],
  ['pg_read_file_old', FILE_READ],
  ['pg_read_binary_file', FILE_READ],
  ['pg_stat_file', FILE_READ],
  ['pg_file_write', FILE_WRITE],
  ['pg_file_rename', FILE_WRITE],
  ['pg_file_unlink', FILE_WRITE],
  ['pg_file_sync', FILE_WRITE],
  ['pg_logdir_ls', FILE_READ],
  ['pg_current_logfile', FILE_READ],
  // Read pg_hba.conf, pg_ident.conf and the configuration files.
  ['pg_hba_file_rules', FILE_READ],
  ['pg_ident_file_mappings', FILE_READ],
  ['pg_show_all_file_settings', FILE_READ],
  // pg_walinspect: WAL records carry every table's rows.
  ['pg_get_wal_record_info', FILE_READ],
  ['pg_get_wal_records_info', FILE_READ],
  ['pg_get_wal_records_info_till_end_of_wal', FILE_READ],
  ['pg_get_wal_stats', FILE_READ],
  ['pg_get_wal_stats_till_end_of_wal', FILE_READ],
  ['pg_get_wal_block_info', FILE_READ],
  // Sequences: writes a read-only transaction refuses (setval) or does not (nextval on a temp sequence).
  ['nextval', SEQUENCE],
  ['setval', SEQUENCE],
  // Settings: can change the role (privileges) or how later statements run.
  ['set_config', e(false, 'session_config')],
  // postgres_fdw: closes connections to remote servers.
  ['postgres_fdw_disconnect', REMOTE],
  ['postgres_fdw_disconnect_all', REMOTE],
])

/** Families matched by prefix (every member has the effect). */
const PREFIXES: readonly (readonly [string, FunctionEffect])[] = [
  ['pg_stat_reset', CONFIG],
  ['pg_advisory_', ADVISORY],
  ['pg_try_advisory_', ADVISORY],
  ['pg_replication_origin_', WAL_WRITE],
  ['binary_upgrade_', CONFIG_WRITE],
  // Directory listings of the data directory (pg_ls_dir, pg_ls_waldir, pg_ls_tmpdir, …).
  ['pg_ls_', FILE_READ],
  // pg_buffercache_evict, _evict_relation, _evict_all (17+): empties shared buffers.
  ['pg_buffercache_evict', CONFIG],
  // dblink_exec runs anything on the remote side; dblink() can too (its text is not ours to read).
  ['dblink', REMOTE],
]

/** The effects of calling `name` (a bare, decoded function name), or undefined for none known. */
export function functionEffect(name: string): FunctionEffect | undefined {
  const lower = name.toLowerCase()
  const exact = EXACT.get(lower)
  if (exact !== undefined) return exact
  for (const [prefix, effect] of PREFIXES) if (lower.startsWith(prefix)) return effect
  return undefined
}

/** Settings whose change can turn the server-side read-only mode off (a write: see docs/pg.md). */
export const READ_ONLY_SETTINGS: ReadonlySet<string> = new Set([
  'default_transaction_read_only',
  'transaction_read_only',
])

/** Settings that change the session's identity or privileges. */
export const ROLE_SETTINGS: ReadonlySet<string> = new Set(['role', 'session_authorization'])
