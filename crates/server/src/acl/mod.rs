//! Access control, as Redis 7.0: the users (`users.rs`: the user model and its rule language),
//! the permission check every command passes (`check.rs`), and the ACL commands
//! (`acl_family.rs`). A client holds its user's [`UserSlot`]; rules changed by ACL SETUSER
//! apply to the connections already authenticated as that user, as in Redis.

pub mod acl_family;
pub mod check;
pub mod file;
pub mod log;
pub mod users;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

use parking_lot::{RwLock, RwLockReadGuard};

use users::User;

/// One user, shared by the clients authenticated as it.
pub struct UserSlot {
    pub name: Vec<u8>,
    /// Every command, key and channel: the check is this one load (the default user's case).
    unrestricted: AtomicBool,
    user: RwLock<User>,
}

impl UserSlot {
    fn new(user: User) -> Arc<Self> {
        Arc::new(UserSlot {
            name: user.name.clone(),
            unrestricted: AtomicBool::new(user.root.unrestricted()),
            user: RwLock::new(user),
        })
    }

    /// Whether the user may run anything, without reading its rules.
    #[inline]
    pub fn unrestricted(&self) -> bool {
        self.unrestricted.load(Relaxed)
    }

    pub fn read(&self) -> RwLockReadGuard<'_, User> {
        self.user.read()
    }

    /// Replaces the user's rules (ACL SETUSER applies them all or none).
    pub fn replace(&self, user: User) {
        let unrestricted = user.root.unrestricted();
        *self.user.write() = user;
        self.unrestricted.store(unrestricted, Relaxed);
    }
}

/// The users, by name (ACL LIST and USERS list them in name order, as Redis's radix tree).
pub struct Acl {
    users: RwLock<BTreeMap<Vec<u8>, Arc<UserSlot>>>,
    default_user: Arc<UserSlot>,
    pub log: log::AclLog,
}

impl Acl {
    /// The default user alone, `requirepass` its password.
    pub fn new(requirepass: &str) -> Self {
        let default_user = UserSlot::new(User::default_user(requirepass));
        let users = BTreeMap::from([(default_user.name.clone(), default_user.clone())]);
        Acl {
            users: RwLock::new(users),
            default_user,
            log: Default::default(),
        }
    }

    /// The user new connections start as.
    #[inline]
    pub fn default_user(&self) -> &Arc<UserSlot> {
        &self.default_user
    }

    /// Whether a new connection must authenticate: unless the default user is on and needs
    /// no password.
    pub fn auth_required(&self) -> bool {
        let user = self.default_user.read();
        !(user.nopass && user.enabled)
    }

    /// The user `name` if `password` authenticates it (it is on, and the password is one of
    /// its own or it needs none).
    pub fn authenticate(&self, name: &[u8], password: &[u8]) -> Option<Arc<UserSlot>> {
        self.get(name).filter(|slot| slot.read().accepts(password))
    }

    pub fn get(&self, name: &[u8]) -> Option<Arc<UserSlot>> {
        self.users.read().get(name).cloned()
    }

    /// Every user, in name order.
    pub fn all(&self) -> Vec<Arc<UserSlot>> {
        self.users.read().values().cloned().collect()
    }

    /// Adds a user, or replaces an existing one's rules.
    pub fn put(&self, user: User) {
        let mut users = self.users.write();
        match users.get(&user.name) {
            Some(slot) => slot.replace(user),
            None => {
                users.insert(user.name.clone(), UserSlot::new(user));
            }
        }
    }

    /// Removes a user (never the default one); returns it when it existed.
    pub fn remove(&self, name: &[u8]) -> Option<Arc<UserSlot>> {
        self.users.write().remove(name)
    }

    /// The users of the config file's `user` lines, or of the ACL file, at start-up. Both at
    /// once are refused, as Redis refuses them. A relative ACL file is in `dir`.
    pub fn load_at_startup(
        &self,
        dir: &std::path::Path,
        acl: &crate::config::sections::AclConfig,
    ) -> Result<(), String> {
        if !acl.aclfile.is_empty() && !acl.users.is_empty() {
            return Err(
                "Configuring Redis with users defined in redis.conf and at the same \
                        setting an ACL file path is invalid. This setup is very likely to lead \
                        to configuration errors and security holes, please define either an ACL \
                        file or declare users directly in your redis.conf, but not both."
                    .into(),
            );
        }
        let all_channels = acl.pubsub_default == "allchannels";
        let default_user = self.default_user.read().clone();
        for user in file::configured_users(&acl.users, &default_user, all_channels)? {
            self.put(user);
        }
        if !acl.aclfile.is_empty() {
            let users = file::load(dir, &acl.aclfile, all_channels).map_err(|errors| {
                format!("Aborting Redis startup because of ACL errors: {errors}")
            })?;
            self.replace_all(users);
        }
        Ok(())
    }

    /// Replaces every user with `users` (ACL LOAD). The default user keeps its identity (the
    /// clients authenticated as it stay) and takes the file's rules, or a fresh default's when
    /// the file has none. Returns the users replaced, whose clients must go.
    pub fn replace_all(&self, users: Vec<User>) -> Vec<Arc<UserSlot>> {
        let mut new_default = User::default_user("");
        let mut table = BTreeMap::new();
        for user in users {
            if user.name == self.default_user.name {
                new_default = user;
            } else {
                table.insert(user.name.clone(), UserSlot::new(user));
            }
        }
        self.default_user.replace(new_default);
        table.insert(self.default_user.name.clone(), self.default_user.clone());
        let old = std::mem::replace(&mut *self.users.write(), table);
        old.into_values()
            .filter(|slot| !Arc::ptr_eq(slot, &self.default_user))
            .collect()
    }

    /// The users as CONFIG REWRITE writes them: a `user` line each, none when they live in an
    /// ACL file.
    pub fn config_lines(&self, acl: &crate::config::sections::AclConfig) -> Vec<Vec<u8>> {
        if !acl.aclfile.is_empty() {
            return Vec::new();
        }
        self.snapshot().iter().map(User::line).collect()
    }

    /// Every user's rules, in name order (ACL SAVE).
    pub fn snapshot(&self) -> Vec<User> {
        self.all().iter().map(|slot| slot.read().clone()).collect()
    }

    /// `requirepass` changed: it is the default user's one password (none: nopass).
    pub fn set_default_password(&self, requirepass: &str) {
        let mut user = self.default_user.read().clone();
        user.set_single_password(requirepass);
        self.default_user.replace(user);
    }
}
