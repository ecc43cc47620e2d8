/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Quoting what a caller sent in a message about it: at most so many bytes,
 * cut where a character begins. A "%.32s" cuts in the middle of a
 * character, and the message is then no UTF-8: GDBus refuses it as an
 * error's text (a GLib-CRITICAL in devbgd's log, the caller gets
 * "[Invalid UTF-8]").
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The longest start of @text that is UTF-8, at most @max_bytes long, and
 * ends at a character's end, as a new string; the text up to its first
 * invalid byte when it is not all UTF-8. */
char *devbg_utf8_excerpt (const char *text, gsize max_bytes);

G_END_DECLS
