/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * DevbgAccess: may this user use this device? The seed's row "your device
 * is accessible to the app": devbgd opens devices as root, so it must not
 * hand a task a device its user could not open. Yes when the user could
 * open the node themselves (its owner and mode, the user's groups, and
 * the node's POSIX ACL, such as the uaccess ACL logind gives the user at
 * the seat); otherwise polkit decides the action
 * org.devbg.Devbg1.use-device for the calling process (allow_active: a
 * user at the seat). Polkit absent or silent: no grant, logged.
 */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

#include "devbg-device.h"
#include "devbg-names.h"

G_BEGIN_DECLS


#define DEVBG_TYPE_ACCESS (devbg_access_get_type ())
G_DECLARE_FINAL_TYPE (DevbgAccess, devbg_access, DEVBG, ACCESS, GObject)

typedef struct {
  pid_t   pid;
  guint64 start_time; /* /proc/PID/stat field 22: with the pid, the process polkit judges */
  uid_t   uid;
} DevbgAccessSubject;

DevbgAccess *devbg_access_new (GDBusConnection *connection,
                               guint            timeout_ms);

/* Pure: may @uid, in groups @gids, read and write a node of this owner,
 * group and mode, with this ACL (the system.posix_acl_access xattr's
 * bytes, NULL when none)? */
gboolean devbg_access_node_allows (uid_t          uid,
                                   const gid_t   *gids,
                                   gsize          n_gids,
                                   const DevbgDeviceOwner *owner,
                                   const guint8  *acl,
                                   gsize          acl_len);

/* Whether the device's own permissions (its node's owner, mode, groups and
 * ACL, or the owner its backend gave) let @uid in, without asking polkit;
 * FALSE means only polkit could. */
gboolean devbg_access_user_may_open (DevbgDevice *device,
                                     uid_t        uid);

/* Never fails: FALSE is a refusal, logged with why. */
void     devbg_access_check_async  (DevbgAccess              *access,
                                    DevbgDevice              *device,
                                    const DevbgAccessSubject *subject,
                                    GCancellable             *cancellable,
                                    GAsyncReadyCallback       callback,
                                    gpointer                  user_data);
gboolean devbg_access_check_finish (DevbgAccess  *access,
                                    GAsyncResult *result);

G_END_DECLS
