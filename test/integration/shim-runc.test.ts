/** berth-shim driving the OCI runtime binary runc (Create options binary_name=/usr/sbin/runc). */
import { defineShimSuite } from './shim-suite';

defineShimSuite({ name: 'oci', binary: '/usr/sbin/runc' });
