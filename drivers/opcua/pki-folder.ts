/** Where Workcell keeps its OPC UA client certificate and trust lists, relative to the layout, unless the layout names a folder. */
export const DEFAULT_PKI_FOLDER = '.workcell/pki/opcua';
