// Staff mode's wording (Status, Needs attention, History, Settings). See index.ts.
import type { Message } from './index';

export const STAFF: Record<string, Message> = {};
