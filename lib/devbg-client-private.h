/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Internal to libdevbg: what the client's calls share.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The checks devbgd makes of a string argument (present, UTF-8, not empty
 * unless @may_be_empty, at most @max bytes), made here so that a bad
 * argument is a clear local DEVBG_ERROR_INVALID_ARGUMENT and never a
 * GVariant critical. */
gboolean devbg_check_string_arg (const char *what,
                                 const char *value,
                                 gboolean    may_be_empty,
                                 gsize       max,
                                 GError    **error);

G_END_DECLS
