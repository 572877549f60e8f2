/**
 * The mini-program. Sign-in is lazy: services/request.js calls wx.login the first time an API
 * call needs the patient, and again once on a 401.
 */
App({
  onLaunch() {
    if (wx.canIUse('getUpdateManager')) {
      const updater = wx.getUpdateManager();
      updater.onUpdateReady(() => {
        wx.showModal({
          title: '更新提示',
          content: '新版本已准备好，是否重启应用？',
          success: (res) => {
            if (res.confirm) updater.applyUpdate();
          },
        });
      });
    }
  },
});
