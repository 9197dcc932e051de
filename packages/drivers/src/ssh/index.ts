export { describeShell, loadShellParser } from './describe-shell.js'
