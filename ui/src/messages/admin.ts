// Admin mode's wording (Sites, a site's page, Configuration, Audit log, Stats). See index.ts.
import type { Message } from './index';

export const ADMIN: Record<string, Message> = {};
