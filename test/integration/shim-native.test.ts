/** berth-shim driving the in-process native runtime (the default backend). */
import { defineShimSuite } from './shim-suite';

defineShimSuite({ name: 'native' });
