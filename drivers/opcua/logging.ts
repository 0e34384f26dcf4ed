/**
 * node-opcua writes its internal warnings (nodeset quirks, certificate chatter) to the console. The
 * driver turns the conditions that matter into errors with a reason, so those warnings stay quiet
 * unless WORKCELL_OPCUA_LOG=warn asks for them; node-opcua's errors are always shown.
 */
import { setWarningLogger } from 'node-opcua-debug';

if (process.env.WORKCELL_OPCUA_LOG !== 'warn') setWarningLogger(() => {});
