"""The review page's stylesheet and script, inline in each page (nothing is fetched from
elsewhere; no build step)."""

from __future__ import annotations

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.2em;color:#222}
table{border-collapse:collapse;width:100%}th,td{padding:.3em .5em;border-bottom:1px solid #ddd;
text-align:left;vertical-align:middle}th{background:#f4f4f4}
.bar{display:flex;width:220px;height:12px;background:#eee;border-radius:2px;overflow:hidden}
.bar span{display:block;height:100%}
.agent{background:#1f77b4}.customer{background:#e6550d}.unknown{background:#7f7f7f}
.silence{background:#d4d4d4}.music{background:#9467bd}.announcement{background:#17becf}
.overlap{background:#d62728}
.flag{display:inline-block;background:#fde8c8;border-radius:3px;padding:0 .3em;margin:1px}
form.filters{display:flex;gap:.6em;flex-wrap:wrap;margin:.8em 0}
#timeline{position:relative;border:1px solid #ccc;cursor:pointer;margin:.6em 0}
.lane{position:relative;height:22px;border-bottom:1px solid #eee}
.lane .seg{position:absolute;top:3px;height:16px;border-radius:2px}
.lane .name{position:absolute;left:4px;top:2px;font-size:11px;color:#000;z-index:2;
background:rgba(255,255,255,.7);padding:0 2px}
#playhead{position:absolute;top:0;bottom:0;width:2px;background:#000;left:0;z-index:3}
.msg{padding:.5em;border-radius:3px;margin:.5em 0}.msg.error{background:#fdd}
.msg.ok{background:#dfd}.muted{color:#777}
"""

JS = """
(function(){
  var tl=document.getElementById('timeline'), au=document.getElementById('player');
  var ph=document.getElementById('playhead');
  if(tl&&au&&ph){
    var dur=parseFloat(tl.dataset.duration)||1;
    au.addEventListener('timeupdate',function(){
      ph.style.left=Math.min(100,100*au.currentTime/dur)+'%';
      ph.dataset.t=au.currentTime.toFixed(2);});
    tl.addEventListener('click',function(e){var r=tl.getBoundingClientRect();
      au.currentTime=dur*(e.clientX-r.left)/r.width;});
  }
  var st=document.getElementById('status'), page=document.getElementById('call');
  function say(kind,text){if(!st)return;st.className='msg '+kind;st.dataset.state=kind;
    st.textContent=text;}
  function wait(rev,tries){
    fetch(page.dataset.stateUrl,{credentials:'same-origin'}).then(function(r){return r.json();})
    .then(function(s){
      if(s.revision>rev){say('ok','revision '+s.revision+' arrived');location.reload();}
      else if(tries>0){setTimeout(function(){wait(rev,tries-1);},1000);}
      else{say('error','no new revision yet; reload the page later');}
    }).catch(function(){setTimeout(function(){wait(rev,tries-1);},1000);});
  }
  function send(body){
    var rev=parseInt(page.dataset.revision,10); body.revision=rev;
    say('busy','sending the correction...');
    fetch(page.dataset.correctUrl,{method:'POST',credentials:'same-origin',
      headers:{'Content-Type':'application/json'},body:JSON.stringify(body)})
    .then(function(r){return r.json().then(function(j){return [r.status,j];});})
    .then(function(a){
      if(a[0]===202){say('busy','correction sent; waiting for revision '+(rev+1)+'...');
        wait(rev,120);}
      else{say('error',(a[0]===409?'conflict: ':'refused: ')+a[1].message);}
    }).catch(function(e){say('error','not sent: '+e);});
  }
  document.querySelectorAll('button[data-agent]').forEach(function(b){
    b.addEventListener('click',function(){send({agent_speaker:b.dataset.agent});});});
  var undo=document.getElementById('undo');
  if(undo){undo.addEventListener('click',function(){send({undo:true});});}
})();
"""
