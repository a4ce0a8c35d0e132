// Jishi's bridge to a mini-program host (a WeChat-style <web-view>). The server adds it, after the
// JS-SDK (jweixin), only to pages it renders in embed mode. Every call is a no-op unless the
// SDK's getEnv confirms the page runs inside a mini-program, so the same page works in a browser
// opened with ?embed=miniprogram.
//
//   jishiHost.inMiniProgram()          true once confirmed
//   jishiHost.pay(orderId)             hands payment to the host's pay page; false if it cannot
//   jishiHost.share({title, path, imageUrl})  what the host shares for this page, now
//   jishiHost.subscribe(roomId, startsAt)  hands a live room's reminder to the host's subscribe
//                                      page (its subscribe message); false if it cannot
(function () {
  'use strict';
  var confirmed = window.__wxjs_environment === 'miniprogram';
  var miniProgram = function () {
    return window.wx && window.wx.miniProgram ? window.wx.miniProgram : null;
  };
  var latestShare = null;

  function post(share) {
    var mp = miniProgram();
    if (!confirmed || !mp || typeof mp.postMessage !== 'function') return;
    mp.postMessage({ data: share });
  }

  function pageShare() {
    var meta = function (property) {
      var el = document.querySelector('meta[property="' + property + '"]');
      return el ? el.getAttribute('content') : null;
    };
    return {
      title: meta('og:title') || document.title,
      path: location.pathname + location.search,
      imageUrl: meta('og:image') || '',
    };
  }

  window.jishiHost = {
    inMiniProgram: function () {
      return confirmed;
    },
    pay: function (orderId) {
      var mp = miniProgram();
      if (!confirmed || !mp || typeof mp.navigateTo !== 'function') return false;
      mp.navigateTo({ url: '/pages/pay/pay?order=' + encodeURIComponent(orderId) });
      return true;
    },
    subscribe: function (roomId, startsAt) {
      var mp = miniProgram();
      if (!confirmed || !mp || typeof mp.navigateTo !== 'function') return false;
      mp.navigateTo({
        url: '/pages/subscribe/subscribe?room=' + encodeURIComponent(roomId) +
          '&starts_at=' + encodeURIComponent(startsAt || ''),
      });
      return true;
    },
    share: function (share) {
      latestShare = share;
      post(share);
    },
  };

  function start() {
    // The page itself is a share target as soon as it is shown; islands post again when what
    // the page shows changes (a new pin, a group that fills).
    latestShare = latestShare || pageShare();
    post(latestShare);
  }

  var mp = miniProgram();
  if (mp && typeof mp.getEnv === 'function') {
    mp.getEnv(function (env) {
      confirmed = !!(env && env.miniprogram);
      if (confirmed) document.documentElement.setAttribute('data-mini-program', 'confirmed');
      if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
      else start();
    });
  }
})();
