/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Internal to libdevbg: what the client's calls share.
 */
#pragma once

#include <gio/gio.h>

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

/* A GAsyncReadyCallback of g_dbus_connection_call() for @task_data, a
 * GTask (owned): its result is the reply, or the call's error with the
 * remote error name stripped. */
void     devbg_return_reply_to_task (GObject      *source,
                                     GAsyncResult *res,
                                     gpointer      task_data);

G_END_DECLS
