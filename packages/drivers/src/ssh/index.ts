export { Client, type ConnectConfig } from './client.js'
export { describeShell, loadShellParser } from './describe-shell.js'
export {
  type SshCaBrokerOptions,
  type SshCaPrincipal,
  type SshPermission,
  sshCaBroker,
} from './ssh-ca-broker.js'
