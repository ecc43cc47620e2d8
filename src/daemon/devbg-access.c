/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "devbg-access"

#include "devbg-access.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#define POLKIT_NAME "org.freedesktop.PolicyKit1"
#define POLKIT_PATH "/org/freedesktop/PolicyKit1/Authority"
#define POLKIT_IFACE "org.freedesktop.PolicyKit1.Authority"

/* The kernel's POSIX ACL xattr (linux/posix_acl_xattr.h). */
#define ACL_XATTR_VERSION 0x0002
#define ACL_USER_OBJ  0x01
#define ACL_USER      0x02
#define ACL_GROUP_OBJ 0x04
#define ACL_GROUP     0x08
#define ACL_MASK      0x10
#define ACL_OTHER     0x20
#define RW 06

struct _DevbgAccess {
  GObject          parent;
  GDBusConnection *connection;
  guint            timeout_ms;
};

G_DEFINE_TYPE (DevbgAccess, devbg_access, G_TYPE_OBJECT)

static gboolean
in_groups (gid_t gid, const gid_t *gids, gsize n)
{
  for (gsize i = 0; i < n; i++)
    if (gids[i] == gid)
      return TRUE;
  return FALSE;
}

typedef struct {
  guint16 tag, perm;
  guint32 id;
} AclEntry;

/* The POSIX.1e access check over the ACL's entries, read and write both
 * needed: owner, then named users, then the owning and named groups
 * (masked), then others. */
static gboolean
acl_allows (uid_t uid, const gid_t *gids, gsize n_gids, const DevbgDeviceOwner *owner,
            const guint8 *acl, gsize len)
{
  gsize n = (len - 4) / sizeof (AclEntry);
  g_autofree AclEntry *e = g_new (AclEntry, n + 1);
  guint16 mask = RW;
  gboolean group_matched = FALSE;

  /* Copied out: the xattr's bytes need not be aligned (little-endian, as
   * the kernel stores it on the machines devbg runs on). */
  memcpy (e, acl + 4, n * sizeof (AclEntry));
  for (gsize i = 0; i < n; i++)
    if (e[i].tag == ACL_MASK)
      mask = e[i].perm;
  for (gsize i = 0; i < n; i++)
    {
      if (e[i].tag == ACL_USER_OBJ && uid == owner->uid)
        return (e[i].perm & RW) == RW;
      if (e[i].tag == ACL_USER && e[i].id == uid)
        return (e[i].perm & mask & RW) == RW;
    }
  for (gsize i = 0; i < n; i++)
    {
      gboolean member = (e[i].tag == ACL_GROUP_OBJ && in_groups (owner->gid, gids, n_gids)) ||
                        (e[i].tag == ACL_GROUP && in_groups (e[i].id, gids, n_gids));
      if (!member)
        continue;
      group_matched = TRUE;
      if ((e[i].perm & mask & RW) == RW)
        return TRUE;
    }
  if (group_matched)
    return FALSE;
  for (gsize i = 0; i < n; i++)
    if (e[i].tag == ACL_OTHER)
      return (e[i].perm & RW) == RW;
  return FALSE;
}

gboolean
devbg_access_node_allows (uid_t uid, const gid_t *gids, gsize n_gids,
                          const DevbgDeviceOwner *owner, const guint8 *acl, gsize acl_len)
{
  guint32 mode = owner->mode;

  if (uid == 0)
    return TRUE;
  if (acl != NULL && acl_len >= 4 && (acl_len - 4) % sizeof (AclEntry) == 0 &&
      (acl[0] | acl[1] << 8) == ACL_XATTR_VERSION)
    return acl_allows (uid, gids, n_gids, owner, acl, acl_len);
  if (uid == owner->uid)
    return ((mode >> 6) & RW) == RW;
  if (in_groups (owner->gid, gids, n_gids))
    return ((mode >> 3) & RW) == RW;
  return (mode & RW) == RW;
}

/* The user's groups as the system's group database says (a task runs with
 * them), not the calling process's. */
static GArray *
groups_of (uid_t uid)
{
  GArray *gids = g_array_new (FALSE, FALSE, sizeof (gid_t));
  struct passwd *pw = getpwuid (uid);
  int n = 64;

  if (pw == NULL)
    return gids;
  g_array_set_size (gids, n);
  if (getgrouplist (pw->pw_name, pw->pw_gid, (gid_t *) gids->data, &n) < 0)
    {
      g_array_set_size (gids, n);
      if (getgrouplist (pw->pw_name, pw->pw_gid, (gid_t *) gids->data, &n) < 0)
        n = 0;
    }
  g_array_set_size (gids, n);
  return gids;
}

/* The node, or the owner its backend gave, or nobody restricting it. */
static gboolean
user_may_open (DevbgDevice *device, uid_t uid, char **why)
{
  const char *node = devbg_device_get_node (device);
  DevbgDeviceOwner owner = *devbg_device_get_owner (device);
  g_autoptr(GArray) gids = NULL;
  guint8 acl[1024];
  ssize_t acl_len = -1;

  if (node != NULL)
    {
      struct stat st;
      if (stat (node, &st) < 0)
        {
          *why = g_strdup_printf ("cannot stat %s: %s", node, g_strerror (errno));
          return FALSE;
        }
      owner = (DevbgDeviceOwner) { .known = TRUE, .uid = st.st_uid, .gid = st.st_gid,
                                   .mode = st.st_mode & 0777 };
      acl_len = getxattr (node, "system.posix_acl_access", acl, sizeof acl);
    }
  else if (!owner.known)
    return TRUE;
  gids = groups_of (uid);
  if (devbg_access_node_allows (uid, (const gid_t *) gids->data, gids->len, &owner,
                                acl_len > 0 ? acl : NULL, acl_len > 0 ? (gsize) acl_len : 0))
    return TRUE;
  *why = g_strdup_printf ("uid %u may not read and write it (owner %u, group %u, mode %03o%s)",
                          (unsigned) uid, owner.uid, owner.gid, owner.mode,
                          acl_len > 0 ? ", with an ACL" : "");
  return FALSE;
}

DevbgAccess *
devbg_access_new (GDBusConnection *connection, guint timeout_ms)
{
  DevbgAccess *self = g_object_new (DEVBG_TYPE_ACCESS, NULL);

  self->connection = g_object_ref (connection);
  self->timeout_ms = timeout_ms;
  return self;
}

static void
on_polkit_reply (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  const char *device_id = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &error);
  gboolean authorized = FALSE, challenge = FALSE;

  if (reply == NULL)
    {
      g_warning ("polkit does not answer (%s): no grant for device %s", error->message, device_id);
      g_task_return_boolean (task, FALSE);
      return;
    }
  g_variant_get (reply, "((bb@a{ss}))", &authorized, &challenge, NULL);
  g_info ("polkit %s %s on device %s", authorized ? "grants" : "does not grant",
          DEVBG_POLKIT_ACTION_USE_DEVICE, device_id);
  g_task_return_boolean (task, authorized);
}

gboolean
devbg_access_user_may_open (DevbgDevice *device, uid_t uid)
{
  g_autofree char *why = NULL;

  return user_may_open (device, uid, &why);
}

void
devbg_access_check_async (DevbgAccess *self, DevbgDevice *device,
                          const DevbgAccessSubject *subject, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autofree char *why = NULL;
  GVariantBuilder subject_b, details_b;

  if (user_may_open (device, subject->uid, &why))
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  g_info ("device %s: %s; asking polkit", devbg_device_get_id (device), why);
  g_task_set_task_data (task, g_strdup (devbg_device_get_id (device)), g_free);
  /* The process, pinned by its start time so that a reused pid is not
   * judged in its place; no interaction: devbgd shows no prompt. */
  g_variant_builder_init (&subject_b, G_VARIANT_TYPE ("a{sv}"));
  g_variant_builder_add (&subject_b, "{sv}", "pid", g_variant_new_uint32 ((guint32) subject->pid));
  g_variant_builder_add (&subject_b, "{sv}", "start-time", g_variant_new_uint64 (subject->start_time));
  g_variant_builder_add (&subject_b, "{sv}", "uid", g_variant_new_int32 ((gint32) subject->uid));
  g_variant_builder_init (&details_b, G_VARIANT_TYPE ("a{ss}"));
  g_variant_builder_add (&details_b, "{ss}", "device-id", devbg_device_get_id (device));
  g_variant_builder_add (&details_b, "{ss}", "device-name", devbg_device_get_name (device));
  g_dbus_connection_call (self->connection, POLKIT_NAME, POLKIT_PATH, POLKIT_IFACE,
                          "CheckAuthorization",
                          g_variant_new ("((sa{sv})sa{ss}us)", "unix-process", &subject_b,
                                         DEVBG_POLKIT_ACTION_USE_DEVICE, &details_b, 0u, ""),
                          G_VARIANT_TYPE ("((bba{ss}))"), G_DBUS_CALL_FLAGS_NO_AUTO_START,
                          (int) self->timeout_ms, cancellable, on_polkit_reply,
                          g_steal_pointer (&task));
}

gboolean
devbg_access_check_finish (DevbgAccess *self, GAsyncResult *result)
{
  (void) self;
  return g_task_propagate_boolean (G_TASK (result), NULL);
}

static void
devbg_access_dispose (GObject *object)
{
  g_clear_object (&DEVBG_ACCESS (object)->connection);
  G_OBJECT_CLASS (devbg_access_parent_class)->dispose (object);
}

static void
devbg_access_class_init (DevbgAccessClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = devbg_access_dispose;
}

static void
devbg_access_init (DevbgAccess *self)
{
  (void) self;
}
