/** The Node.js releases FetchBox supports; package.json `engines` and scripts/node-env.sh say the same. */
export const SUPPORTED_NODE = '22.19+ or 24+' as const;

/**
 * Whether a Node.js version (`process.versions.node`) is one FetchBox supports: older releases are
 * past their end of life and get no security fixes, which matters for a program that parses the open web.
 */
export function isSupportedNode(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major >= 24 || (major === 22 && minor >= 19);
}
